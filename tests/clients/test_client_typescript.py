"""The TypeScript client (clients/typescript): build it and run its node:test suite
against an in-process jobsvc server.

The server runs on this test's event loop, so npm runs through
asyncio.create_subprocess_exec: the loop keeps serving while node talks to it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from jobsvc.server import JobsvcServer
from tests.toolchains import run_tool

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "typescript"
NPM = shutil.which("npm")


@pytest.mark.skipif(NPM is None, reason="npm is not installed (the TypeScript client needs Node.js 20+ and npm)")
async def test_typescript_client_suite_against_live_server(server: JobsvcServer) -> None:
    assert NPM is not None
    env = dict(os.environ)
    env["JOBSVC_SERVER"] = f"127.0.0.1:{server.port}"
    env.setdefault("NO_COLOR", "1")
    steps: list[tuple[list[str], float]] = []
    if not (PACKAGE / "node_modules" / ".package-lock.json").exists():
        steps.append(([NPM, "ci", "--no-audit", "--no-fund", "--loglevel=error"], 240))
    steps += [([NPM, "run", "--silent", "build"], 120), ([NPM, "test", "--silent"], 150)]
    for command, timeout in steps:
        code, output = await run_tool(*command, cwd=PACKAGE, env=env, timeout=timeout)
        assert code == 0, f"`{' '.join(command[1:])}` exited {code}:\n{output[-20000:]}"
    # The live suites ran: they skip without JOBSVC_SERVER, the worker's without AckService.
    assert "# fail 0" in output, output[-5000:]
    for suite in ("client (live server)", "workers (live server)", "workflows (live server)"):
        assert f"# Subtest: {suite}" in output, output[-5000:]
        assert f"{suite} # SKIP" not in output, output[-5000:]
