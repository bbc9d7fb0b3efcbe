"""Child processes for tests: a jobsvc server started the way users start it, always stopped."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.conftest import subprocess_env


def postgres_account() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL's tools as (pgbouncer, Patroni and PostgreSQL refuse
    root): the PostgreSQL account when we are root, None (ourselves) otherwise."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "jobsvc-pg"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    raise AssertionError("running as root, and no account to run PostgreSQL's tools as (postgres, jobsvc-pg)")


def spawn_logged(
    command: Sequence[str], log: Path, *, account: tuple[int, int] | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start command in a session of its own (stop it with its process group), its output
    in log, as account when given."""
    with log.open("wb") as out:
        return subprocess.Popen(
            list(command),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd="/",
            start_new_session=True,
            user=None if account is None else account[0],
            group=None if account is None else account[1],
            extra_groups=None if account is None else [],
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`jobsvc serve` in a child process; its output is kept for assertions and failures."""

    def __init__(
        self, command: Sequence[str], port: int, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.proc = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env or subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if "jobsvc listening on" in line:
                self._ready.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"server did not start (exit {self.proc.returncode}):\n{self.output}")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Wait until a line of output contains text."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"never printed {text!r} (exit {self.proc.returncode}):\n{self.output}")
            time.sleep(0.05)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"server ignored SIGTERM for {timeout}s:\n{self.output}") from None

    def interrupt(self, timeout: float = 30) -> int:
        """Ctrl-C as a terminal sends it: SIGINT to the whole process group (e.g. make and its child)."""
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"server ignored Ctrl-C for {timeout}s:\n{self.output}") from None

    def stop(self) -> None:
        """Make sure the process group is gone (used on every exit path)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@contextlib.contextmanager
def jobsvc_serve(
    *args: str,
    port: int | None = None,
    executable: Sequence[str] | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """Run `jobsvc serve ARGS` on 127.0.0.1 until the block ends."""
    port = port or free_port()
    command = [
        *(executable or [sys.executable, "-m", "jobsvc.cli"]),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *args,
    ]
    server = ServerProcess(command, port, cwd=cwd, env=env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def jobsvc_cli(
    *args: str,
    server: str,
    executable: Sequence[str] | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one client command of the CLI (env: variables added to the test environment)."""
    command = [*(executable or [sys.executable, "-m", "jobsvc.cli"]), "--server", server, *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**subprocess_env(), **(env or {})},
        input=stdin,
        check=False,
    )
