"""Running another language's toolchain (go, npm, mvn) from a test, beside the in-process
server: asynchronously (the server runs on the test's event loop) and in a process group
of its own, so that a timeout kills the tool and everything it started."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest

OUTPUT_TAIL = 20_000


def tail(text: str) -> str:
    """The end of a long output, for assertion messages."""
    return text if len(text) <= OUTPUT_TAIL else "…" + text[-OUTPUT_TAIL:]


async def run_tool(*argv: str, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run a command; (exit code, combined output). The test fails if it runs over `timeout`."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            output, _ = await asyncio.wait_for(proc.communicate(), 10)
        except TimeoutError:
            output = b"(no output: the process group did not exit)"
        pytest.fail(f"`{' '.join(argv)}` ran over {timeout:.0f} s:\n{tail(output.decode(errors='replace'))}")
    return proc.returncode or 0, output.decode(errors="replace")
