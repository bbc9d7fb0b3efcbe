"""The Go client and remote-worker library (clients/go) against a live server.

Runs `go test ./...` in clients/go with JOBSVC_SERVER pointing at an in-process
jobsvc server serving tests/handlers.py, so the Go tests exercise the real API:
submit, call, stream resume through a TCP proxy that cuts the connection, errors,
cancel, the worker (AckService) and the README's quickstart.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from jobsvc.server import JobsvcServer
from tests.toolchains import run_tool, tail

GO_MODULE = Path(__file__).resolve().parents[2] / "clients" / "go"
# A cold run (module downloads, compiling gRPC) takes about a minute on 2 cores.
GO_TEST_TIMEOUT = 300.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("go") is None, reason="go is not on PATH: the Go client tests need a Go toolchain"),
]


@pytest.mark.timeout(GO_TEST_TIMEOUT + 60)
async def test_go_client_and_worker(server: JobsvcServer) -> None:
    env = dict(os.environ, JOBSVC_SERVER=f"127.0.0.1:{server.port}")
    code, text = await run_tool(
        "go", "test", "./...", "-count=1", "-v", cwd=GO_MODULE, env=env, timeout=GO_TEST_TIMEOUT
    )
    assert code == 0, f"go test ./... exited {code}:\n{tail(text)}"
    assert "--- FAIL" not in text, tail(text)
    # With JOBSVC_SERVER set, no live test may skip itself.
    assert "--- SKIP" not in text, tail(text)
