"""Optional sampling of the server process with py-spy during one measurement window."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

# py-spy stops by itself after this long even if nobody tells it to.
MAX_PROFILE_SECONDS = 600
STOP_TIMEOUT = 20.0
_FORMATS = {".svg": "flamegraph", ".json": "speedscope"}


def find_py_spy() -> str | None:
    """py-spy next to this interpreter (the virtualenv), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.is_file() else shutil.which("py-spy")


class PySpyProfiler:
    """Records the server's stacks during the first window it is asked to; later windows run bare.

    The output format follows the file's suffix: .svg a flame graph, .json speedscope,
    anything else py-spy's raw collapsed stacks (one `frame;frame;... count` line per stack).
    """

    def __init__(self, executable: str, pid: int, output: Path, *, native: bool = False) -> None:
        self._executable = executable
        self._pid = pid
        self._output = output
        self._native = native
        self.done = False

    def command(self) -> list[str]:
        """The py-spy command line."""
        fmt = _FORMATS.get(self._output.suffix, "raw")
        cmd = [
            self._executable,
            "record",
            "--pid",
            str(self._pid),
            "--output",
            str(self._output),
            "--format",
            fmt,
            "--rate",
            "100",
            "--duration",
            str(MAX_PROFILE_SECONDS),
        ]
        # --nonblocking reads stacks without pausing the server (less distortion), but py-spy
        # can only unwind C frames of a paused process.
        return [*cmd, "--native"] if self._native else [*cmd, "--nonblocking"]

    @contextlib.asynccontextmanager
    async def window(self) -> AsyncIterator[None]:
        """Sample the server while the block runs (once)."""
        if self.done:
            yield
            return
        self.done = True
        log = self._output.with_suffix(self._output.suffix + ".log")
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                *self.command(), stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
            )
        try:
            yield
        finally:
            await _interrupt(process)
        if process.returncode not in (0, -signal.SIGINT):
            print(f"py-spy exited with {process.returncode}; see {log}", file=sys.stderr)


async def _interrupt(process: asyncio.subprocess.Process) -> None:
    """SIGINT (py-spy then writes its output), SIGKILL if it does not end in time."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
