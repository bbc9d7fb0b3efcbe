"""HAProxy in front of `jobsvc serve` replicas, for tests: run with deploy/haproxy/haproxy.cfg
itself (its addresses come from the environment), stats read from its admin socket."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import REPO, subprocess_env
from tests.faults.children import SERVER_READY, Replica
from tests.faults.handlers import LEDGER_DSN_ENV, WORKER_ID_ENV
from tests.processes import free_port

HAPROXY_CONFIG = REPO / "deploy" / "haproxy" / "haproxy.cfg"
HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
BACKEND = "jobsvc"
REPLICAS = 3


def haproxy_env(bind: str, stats_socket: Path, replicas: Sequence[str]) -> dict[str, str]:
    """The environment deploy/haproxy/haproxy.cfg reads its addresses from."""
    env = {"JOBSVC_LB_BIND": bind, "JOBSVC_LB_STATS_SOCKET": str(stats_socket)}
    env.update({f"JOBSVC_REPLICA_{i}": address for i, address in enumerate(replicas, 1)})
    return {**os.environ, **env}


class HAProxy:
    """haproxy -db -f deploy/haproxy/haproxy.cfg, in its own process group; always stopped."""

    def __init__(self, workdir: Path, replicas: Sequence[str]) -> None:
        assert HAPROXY is not None
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.socket = workdir / "haproxy.sock"
        self.lines: list[str] = []
        env = haproxy_env(self.address, self.socket, replicas)
        self.proc = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(HAPROXY_CONFIG)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True, name="haproxy-output").start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self, last: int = 60) -> str:
        """The last lines haproxy logged."""
        return "\n".join(self.lines[-last:])

    def command(self, text: str) -> str:
        """One command on the admin socket; its answer."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket))
            sock.sendall(text.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> dict[str, dict[str, str]]:
        """`show stat` of the backend's servers: name -> column -> value."""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {r["svname"]: r for r in rows if r["pxname"] == BACKEND and r["svname"] not in ("BACKEND",)}

    async def wait_status(self, server: str, status: str, timeout: float = 30) -> dict[str, str]:
        """Wait until haproxy reports the server in status (UP, DOWN; a transition like
        "DOWN 1/2" counts as its first word only once complete); the server's row."""
        deadline = time.monotonic() + timeout
        row: dict[str, str] = {}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"haproxy exited ({self.proc.returncode}):\n{self.output()}")
            with contextlib.suppress(OSError):
                row = (await asyncio.to_thread(self.servers)).get(server, {})
                if row.get("status") == status:
                    return row
            await asyncio.sleep(0.1)
        raise AssertionError(f"haproxy never reported {server} {status} within {timeout}s: {row}\n{self.output()}")

    async def wait_ready(self, timeout: float = 20) -> None:
        """Wait for the admin socket."""
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"haproxy did not start ({self.proc.poll()}):\n{self.output()}")
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        """Stop haproxy (used on every exit path)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@dataclass
class ReplicaSet:
    """`jobsvc serve` replicas on fixed loopback ports (a restart reuses its slot's port),
    all on one database; every process ever started is stopped by stop_all()."""

    dsn: str
    drain_delay: float
    grace: float
    ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(REPLICAS)])
    current: dict[int, Replica] = field(default_factory=dict)
    started: list[Replica] = field(default_factory=list)
    incarnations: dict[int, int] = field(default_factory=dict)

    @property
    def addresses(self) -> list[str]:
        """host:port of each slot."""
        return [f"127.0.0.1:{port}" for port in self.ports]

    def launch(self, slot: int, *, handlers: bool = True) -> Replica:
        """Start the replica of a slot (not waiting for it); named r<slot>.<incarnation>."""
        incarnation = self.incarnations.get(slot, -1) + 1
        self.incarnations[slot] = incarnation
        name = f"r{slot}.{incarnation}"
        command = [sys.executable, "-m", "jobsvc.cli", "serve", "--host", "127.0.0.1", "--port", str(self.ports[slot])]
        command += ["--database-url", self.dsn, "--concurrency", "8", "--shutdown-grace", str(self.grace)]
        command += ["--drain-delay", str(self.drain_delay), "--health-interval", "1"]
        if handlers:
            command += ["--handlers", "tests.faults.handlers"]
        env = {**subprocess_env(), LEDGER_DSN_ENV: self.dsn, WORKER_ID_ENV: name}
        replica = Replica(name, self.ports[slot], command, env)
        self.started.append(replica)
        self.current[slot] = replica
        return replica

    async def start(self, slot: int, *, handlers: bool = True) -> Replica:
        """Start a slot's replica and wait until it listens."""
        replica = self.launch(slot, handlers=handlers)
        await replica.wait_for_line(SERVER_READY, timeout=90)
        return replica

    def stop_all(self) -> None:
        """Stop every replica started (safe to call twice): Ctrl-C first, which skips the
        drain delay, to all of them at once."""
        for replica in self.started:
            if replica.running:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(replica.proc.pid, signal.SIGINT)
        for replica in self.started:
            replica.stop()


def server_name(slot: int) -> str:
    """haproxy's name of a slot's server."""
    return f"jobsvc-{slot + 1}"
