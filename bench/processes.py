"""The processes a benchmark needs: a private PostgreSQL, jobsvc servers, and CPU accounting.

Every process started here is stopped by the same context manager that started it, on
success, error or Ctrl-C alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
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
    # Server processes on one database, all on the same port (SO_REUSEPORT).
    processes: int = 1
    # Remote `jobsvc worker` processes started beside the server(s), and their concurrency.
    workers: int = 0
    worker_concurrency: int = 64
    # "python": `jobsvc worker` processes; "go": clients/go/cmd/bench-worker, built with `go build`.
    worker_kind: str = "python"
    # Handler modules of the server; the workers serve bench.remote_handlers.
    handlers: tuple[str, ...] = ("bench.handlers",)
    # Seconds before a finished job moves to the history (None: the server's default).
    history_after: float | None = None

    def args(self) -> list[str]:
        """Extra command-line arguments for bench.serve."""
        extra = ["--concurrency", str(self.concurrency), "--claim-batch", str(self.claim_batch)]
        if self.metrics:
            extra += ["--metrics-port", "0"]
        extra += [arg for module in self.handlers for arg in ("--handlers", module)]
        if self.history_after is not None:
            extra += ["--history-after", str(self.history_after)]
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


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: ours, with the repository on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def child_process(
    cmd: list[str], log_file: Path, env: dict[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child process (stdout and stderr to log_file) in a session of its own; always stopped."""
    with log_file.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *cmd,
            cwd=REPO,
            env=env or child_env(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        yield process
    except Exception as exc:
        exc.add_note(f"--- last lines of {log_file}:\n{log_tail(log_file)}")
        raise
    finally:
        await stop_process(process)


def log_tail(log_file: Path, lines: int = 30) -> str:
    """The last lines of a log file ('' if there is none)."""
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:]) if log_file.exists() else ""


def log_has_word(log_file: Path, word: str) -> bool:
    """Whether a log file has `word` among its words."""
    return log_file.exists() and word in log_file.read_text(errors="replace").split()


def require_alive(pids: list[int], what: str) -> None:
    """Raise if any of the processes has exited (gone, or a zombie not yet reaped)."""
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            raise RuntimeError(f"{what} (pid {pid}) has exited") from None
        if stat[stat.rindex(")") + 2 :].split()[0] in ("Z", "X"):
            raise RuntimeError(f"{what} (pid {pid}) has exited")


def require_running(processes: list[asyncio.subprocess.Process], what: str) -> None:
    """Raise if any of the processes has exited."""
    for process in processes:
        if process.returncode is not None:
            raise RuntimeError(f"{what} (pid {process.pid}) exited with code {process.returncode}")


@contextlib.asynccontextmanager
async def server_process(
    database_url: str, options: ServerOptions, log_file: Path, port: int = 0
) -> AsyncIterator[ServerProcess]:
    """Start a jobsvc server in a separate process, wait until it is READY, and always stop it."""
    env = child_env()
    cmd = [sys.executable, "-m", "bench.serve", "--database-url", database_url, "--port", str(port), *options.args()]
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


@dataclass(frozen=True)
class CpuSnapshot:
    """Cumulative CPU seconds of each party (harness, server, workers, postgres, ...) at one moment."""

    wall: float
    seconds: dict[str, float]


class CpuProbe:
    """Measures how many cores each party used over a window.

    A party is a list of process ids (with their children: prefork pools, PostgreSQL
    backends). PostgreSQL's share counts the postmaster and its current children; a
    backend that exits inside the window takes its CPU time with it (the pools keep theirs
    open). The harness is this process.
    """

    def __init__(self, parties: dict[str, list[int]], postmaster_pid: int) -> None:
        self._parties = parties
        self._postmaster_pid = postmaster_pid

    def snapshot(self) -> CpuSnapshot:
        """CPU seconds used so far."""
        children = _children_by_parent()
        seconds = {"harness": time.process_time()}
        parties = [(party, pids) for party, pids in self._parties.items() if pids]
        for party, pids in [*parties, ("postgres", [self._postmaster_pid])]:
            family = [*pids, *(child for pid in pids for child in children.get(pid, []))]
            seconds[party] = sum(_proc_cpu_seconds(pid) for pid in family)
        return CpuSnapshot(wall=time.perf_counter(), seconds=seconds)

    @staticmethod
    def cores(start: CpuSnapshot, end: CpuSnapshot) -> dict[str, float]:
        """Average cores used by each party between two snapshots."""
        wall = max(end.wall - start.wall, 1e-9)
        return {party: (end.seconds[party] - start.seconds.get(party, 0.0)) / wall for party in end.seconds}


def _children_by_parent() -> dict[int, list[int]]:
    """Every process's direct children (reads /proc; PostgreSQL backends are children of the postmaster)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry.name))
    return children


@contextlib.asynccontextmanager
async def server_processes(
    database_url: str, options: ServerOptions, logs: Path, name: str
) -> AsyncIterator[list[ServerProcess]]:
    """options.processes servers on one database and one port (the first picks it; SO_REUSEPORT)."""
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(server_process(database_url, options, logs / f"{name}.log"))
        found = [first]
        for index in range(1, options.processes):
            log_file = logs / f"{name}.{index}.log"
            found.append(await stack.enter_async_context(server_process(database_url, options, log_file, first.port)))
        yield found


@contextlib.asynccontextmanager
async def jobsvc_workers(
    target: str, count: int, concurrency: int, logs: Path, name: str
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """`count` remote workers (`jobsvc worker`, the CLI users run) serving bench.remote_handlers."""
    cmd = [sys.executable, "-m", "jobsvc.cli", "--log-level", "WARNING", "worker", "--server", target]
    cmd += ["--handlers", "bench.remote_handlers", "--concurrency", str(concurrency)]
    async with _workers(cmd, count, logs / f"{name}.worker") as found:
        yield found


@contextlib.asynccontextmanager
async def _workers(
    cmd: list[str], count: int, log_prefix: Path, id_prefix: str = "bench"
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """`count` processes of cmd + `--worker-id {id_prefix}-{index}`, logging to {log_prefix}{index}.log."""
    async with contextlib.AsyncExitStack() as stack:
        found = []
        for index in range(count):
            log_file = log_prefix.with_name(f"{log_prefix.name}{index}.log")
            worker = child_process([*cmd, "--worker-id", f"{id_prefix}-{index}"], log_file)
            found.append(await stack.enter_async_context(worker))
        yield found


GO_MODULE = REPO / "clients" / "go"
GO_WORKER_PACKAGE = "./cmd/bench-worker"
# A cold build (module downloads, compiling gRPC) takes about a minute on 2 cores.
GO_BUILD_TIMEOUT = 300.0


def find_go() -> str | None:
    """The go executable, if installed."""
    return shutil.which("go")


async def build_go_worker(logs: Path) -> Path:
    """`go build` clients/go/cmd/bench-worker into the logs directory (temporary; Go's own build
    cache keeps rebuilds short); the executable's path. Its output goes to logs/go-build.log."""
    go = find_go()
    if go is None:
        raise RuntimeError("go is not on PATH")
    executable = logs / "bench-worker"
    cmd = [go, "-C", str(GO_MODULE), "build", "-o", str(executable), GO_WORKER_PACKAGE]
    async with child_process(cmd, logs / "go-build.log") as process:
        await asyncio.wait_for(process.wait(), GO_BUILD_TIMEOUT)
        if process.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` exited with code {process.returncode}")
    return executable


@contextlib.asynccontextmanager
async def go_workers(
    executable: Path, target: str, count: int, concurrency: int, log_prefix: Path
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """`count` Go remote workers (clients/go/cmd/bench-worker, from build_go_worker) serving noop_remote."""
    cmd = [str(executable), "--server", target, "--concurrency", str(concurrency)]
    async with _workers(cmd, count, log_prefix, "bench-go") as found:
        yield found


def rss_mib(pid: int) -> float:
    """Resident set size of a process in MiB (VmRSS), NaN if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def free_port() -> int:
    """A TCP port on 127.0.0.1 free at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """A private redis-server on 127.0.0.1."""

    process: asyncio.subprocess.Process
    port: int

    @property
    def url(self) -> str:
        """The redis:// URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"


def find_redis_server() -> str | None:
    """The redis-server executable (Debian's package), if installed."""
    return shutil.which("redis-server") or next(
        (str(p) for p in (Path("/usr/bin/redis-server"), Path("/usr/sbin/redis-server")) if p.is_file()), None
    )


@contextlib.asynccontextmanager
async def redis_server(logs: Path) -> AsyncIterator[RedisServer]:
    """redis-server on a free port with a temporary directory; stopped (and the directory removed) at the end.

    Persistence as Redis documents for a durable broker: append-only file, fsync every second.
    """
    executable = find_redis_server()
    if executable is None:
        raise RuntimeError("redis-server not found (Debian package redis-server; scripts/system-deps installs it)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="jobsvc-bench-redis-") as tmp:
        cmd = [
            executable,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            tmp,
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ]
        async with child_process(cmd, logs / "redis-server.log") as process:
            deadline = time.monotonic() + READY_TIMEOUT
            while True:
                require_running([process], "redis-server")
                try:
                    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    if time.monotonic() > deadline:
                        message = f"redis-server not listening on {port} within {READY_TIMEOUT:.0f} s"
                        raise RuntimeError(message) from None
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                break
            yield RedisServer(process, port)


def postmaster_pid(pg: EmbeddedPostgres) -> int:
    """The PostgreSQL postmaster's process id (first line of postmaster.pid)."""
    return int((pg.data_dir / "postmaster.pid").read_text().splitlines()[0])
