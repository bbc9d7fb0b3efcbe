"""The Go client and remote-worker library (clients/go) against a live server.

Runs `go test ./...` in clients/go with JOBSVC_SERVER pointing at an in-process
jobsvc server serving tests/handlers.py, so the Go tests exercise the real API:
submit, call, stream resume through a TCP proxy that cuts the connection, errors,
cancel, the worker (AckService) and the README's quickstart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from pathlib import Path

import pytest

from jobsvc.server import JobsvcServer

GO_MODULE = Path(__file__).resolve().parent.parent / "clients" / "go"
# A cold run (module downloads, compiling gRPC) takes about a minute on 2 cores.
GO_TEST_TIMEOUT = 300.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("go") is None, reason="go is not on PATH: the Go client tests need a Go toolchain"),
]


@pytest.mark.timeout(GO_TEST_TIMEOUT + 60)
async def test_go_client_and_worker(server: JobsvcServer) -> None:
    env = dict(os.environ, JOBSVC_SERVER=f"127.0.0.1:{server.port}")
    # The server runs on this event loop: wait for `go test` without blocking it.
    process = await asyncio.create_subprocess_exec(
        "go",
        "test",
        "./...",
        "-count=1",
        "-v",
        cwd=GO_MODULE,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group: a timeout kills the test binaries too
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), GO_TEST_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        output, _ = await process.communicate()
        pytest.fail(f"go test ./... did not finish in {GO_TEST_TIMEOUT:.0f} s:\n{output.decode(errors='replace')}")
    text = output.decode(errors="replace")
    assert process.returncode == 0, f"go test ./... exited {process.returncode}:\n{text}"
    assert "--- FAIL" not in text, text
    # With JOBSVC_SERVER set, no live test may skip itself.
    assert "--- SKIP" not in text, text
    print(text)
