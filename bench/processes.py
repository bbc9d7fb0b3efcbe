"""The processes a benchmark needs: a private PostgreSQL, jobsvc servers, and CPU accounting.

Every process started here is stopped by the same context manager that started it, on
success, error or Ctrl-C alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from jobsvc.store.embedded import EmbeddedPostgres

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def fresh_postgres() -> Iterator[EmbeddedPostgres]:
    """A new PostgreSQL cluster in a temporary directory, with fsync on (the production setting)."""
    with tempfile.TemporaryDirectory(prefix="jobsvc-bench-pg-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "data", fsync=True)
        try:
            pg.start()
            yield pg
        finally:
            pg.stop("fast")


async def create_database(pg: EmbeddedPostgres, name: str) -> str:
    """Create an empty database (the server migrates it at start); return its DSN."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a plain database name: {name!r}")
    conn = await asyncpg.connect(pg.dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return pg.dsn_for(name)


@dataclass(frozen=True)
class ServerOptions:
    """How a benchmark server process is started."""

    concurrency: int = 16
    claim_batch: int = 32
    uvloop: bool = True
    # Serve Prometheus metrics (on a free port), to measure what recording them costs.
    metrics: bool = False

    def args(self) -> list[str]:
        """Extra command-line arguments for bench.serve."""
        extra = ["--concurrency", str(self.concurrency), "--claim-batch", str(self.claim_batch)]
        if self.metrics:
            extra += ["--metrics-port", "0"]
        return extra if self.uvloop else [*extra, "--no-uvloop"]


@dataclass
class ServerProcess:
    """A running `python -m bench.serve` child."""

    process: asyncio.subprocess.Process
    port: int
    log_file: Path

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    @property
    def target(self) -> str:
        """host:port for a client."""
        return f"127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's stderr."""
        return "\n".join(self._log_lines()[-lines:])

    def logged_errors(self) -> list[str]:
        """Lines of the server's log at level ERROR or above (bench.serve's log format)."""
        return [line for line in self._log_lines() if " ERROR " in line or " CRITICAL " in line]

    def _log_lines(self) -> list[str]:
        return self.log_file.read_text(errors="replace").splitlines() if self.log_file.exists() else []


@contextlib.asynccontextmanager
async def server_process(database_url: str, options: ServerOptions, log_file: Path) -> AsyncIterator[ServerProcess]:
    """Start a jobsvc server in a separate process, wait until it is READY, and always stop it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "bench.serve", "--database-url", database_url, *options.args()]
    with log_file.open("wb") as log:
        # A session of its own: a Ctrl-C on the terminal reaches only the harness, which then
        # stops the server before PostgreSQL, in that order.
        process = await asyncio.create_subprocess_exec(
            *cmd,
            cwd=REPO,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
    server = ServerProcess(process, 0, log_file)
    try:
        server.port = await _wait_ready(process)
        yield server
    except Exception as exc:
        exc.add_note(f"--- last lines of the server log ({log_file}):\n{server.log_tail()}")
        raise
    finally:
        await stop_process(process)


async def _wait_ready(process: asyncio.subprocess.Process) -> int:
    """The port from the server's `READY <port>` line, within READY_TIMEOUT seconds."""
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            line = await asyncio.wait_for(process.stdout.readline(), remaining)
        except TimeoutError:
            break
        if not line:
            await process.wait()
            raise RuntimeError(f"server exited with code {process.returncode} before READY")
        words = line.decode(errors="replace").split()
        if len(words) == 2 and words[0] == "READY":
            return int(words[1])
    raise RuntimeError(f"server not READY within {READY_TIMEOUT:.0f} s")


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if the process is still there after STOP_TIMEOUT seconds."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


# -- CPU accounting ----------------------------------------------------------------


def _proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads), 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) may contain spaces; the fields after it are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _children(pid: int) -> list[int]:
    """Direct children of pid (reads /proc; PostgreSQL backends are children of the postmaster)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(entry.name))
    return found


@dataclass(frozen=True)
class CpuSnapshot:
    """Cumulative CPU seconds of the harness, the server and PostgreSQL at one moment."""

    wall: float
    harness: float
    server: float
    postgres: float


class CpuProbe:
    """Measures how many cores each party used over a window.

    PostgreSQL's share counts the postmaster and its current children; a backend that
    exits inside the window takes its CPU time with it (the pools keep theirs open).
    """

    def __init__(self, server_pid: int, postmaster_pid: int) -> None:
        self._server_pid = server_pid
        self._postmaster_pid = postmaster_pid

    def snapshot(self) -> CpuSnapshot:
        """CPU seconds used so far."""
        pg_pids = [self._postmaster_pid, *_children(self._postmaster_pid)]
        return CpuSnapshot(
            wall=time.perf_counter(),
            harness=time.process_time(),
            server=_proc_cpu_seconds(self._server_pid),
            postgres=sum(_proc_cpu_seconds(pid) for pid in pg_pids),
        )

    @staticmethod
    def cores(start: CpuSnapshot, end: CpuSnapshot) -> dict[str, float]:
        """Average cores used by each party between two snapshots."""
        wall = max(end.wall - start.wall, 1e-9)
        return {
            "harness": (end.harness - start.harness) / wall,
            "server": (end.server - start.server) / wall,
            "postgres": (end.postgres - start.postgres) / wall,
        }


def postmaster_pid(pg: EmbeddedPostgres) -> int:
    """The PostgreSQL postmaster's process id (first line of postmaster.pid)."""
    return int((pg.data_dir / "postmaster.pid").read_text().splitlines()[0])
