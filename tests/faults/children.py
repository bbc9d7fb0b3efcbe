"""Child processes of the fault suite: `jobsvc worker` and `jobsvc serve`, each in its
own process group, their output kept for failure messages, always stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from tests.conftest import subprocess_env
from tests.faults.handlers import LEDGER_DSN_ENV, WORKER_ID_ENV
from tests.processes import free_port

JOBSVC = (sys.executable, "-m", "jobsvc.cli")
WORKER_READY = "connected (session"
SERVER_READY = "jobsvc listening on"


class Child:
    """One child process group."""

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str]) -> None:
        self.name = name
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            list(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        threading.Thread(target=self._read, daemon=True, name=f"fault-child-{name}").start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.proc.poll() is None

    def output(self, last: int = 40) -> str:
        """The last lines it printed."""
        return "\n".join(self.lines[-last:])

    def saw(self, text: str) -> bool:
        """Whether some output line contains text."""
        return any(text in line for line in list(self.lines))

    async def wait_for_line(self, text: str, timeout: float = 30.0) -> None:
        """Wait until the child prints text; fail (with its output) if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while not self.saw(text):
            if not self.running or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never printed {text!r} (exit {self.proc.poll()}):\n{self.output()}")
            await asyncio.sleep(0.05)

    def kill(self) -> float:
        """kill -9 the whole group; the moment it was sent."""
        moment = time.time()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        return moment

    def terminate(self) -> float:
        """SIGTERM (what an orchestrator sends); the moment it was sent."""
        moment = time.time()
        self.proc.send_signal(signal.SIGTERM)
        return moment

    def stop(self) -> None:
        """Make sure the group is gone: SIGTERM, then SIGKILL after 10 s."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


class Replica(Child):
    """`jobsvc serve` on a loopback port."""

    def __init__(self, name: str, port: int, command: Sequence[str], env: dict[str, str]) -> None:
        super().__init__(name, command, env)
        self.address = f"127.0.0.1:{port}"


class Children:
    """Starts workers and replicas on one database; stop_all() ends every one of them."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.started: list[Child] = []

    def _env(self, worker_id: str) -> dict[str, str]:
        return {**subprocess_env(), LEDGER_DSN_ENV: self.dsn, WORKER_ID_ENV: worker_id}

    async def worker(
        self,
        target: str,
        worker_id: str,
        *,
        modules: Sequence[str] = ("tests.faults.handlers",),
        lease: float = 2.0,
        concurrency: int = 4,
        wait: bool = True,
    ) -> Child:
        """`jobsvc worker` (connected to target when wait)."""
        handlers = [arg for module in modules for arg in ("--handlers", module)]
        command = [*JOBSVC, "worker", "--server", target, *handlers, "--concurrency", str(concurrency)]
        command += ["--lease", str(lease), "--worker-id", worker_id, "--shutdown-grace", "1"]
        child = Child(worker_id, command, self._env(worker_id))
        self.started.append(child)
        if wait:
            await child.wait_for_line(WORKER_READY)
        return child

    async def replica(
        self,
        name: str,
        *,
        handlers: Sequence[str] = (),
        concurrency: int = 8,
        grace: float = 10.0,
        lease: float | None = None,
    ) -> Replica:
        """`jobsvc serve` on this database (no handlers: an API-only replica), once listening."""
        port = free_port()
        command = [*JOBSVC, "serve", "--host", "127.0.0.1", "--port", str(port), "--database-url", self.dsn]
        command += [arg for module in handlers for arg in ("--handlers", module)]
        command += ["--concurrency", str(concurrency), "--shutdown-grace", str(grace)]
        command += ["--lease-seconds", str(lease)] if lease is not None else []
        replica = Replica(name, port, command, self._env(name))
        self.started.append(replica)
        await replica.wait_for_line(SERVER_READY, timeout=60)
        return replica

    def stop_all(self) -> None:
        """Stop every child started (safe to call twice)."""
        for child in self.started:
            child.stop()
