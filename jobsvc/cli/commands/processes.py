"""`jobsvc serve --processes N`: N server processes on one port, and this one watching them.

Python runs one core per process: a server process holds its gRPC and HTTP ports, its
executor and its maintenance on one core however many the machine has. With N, this
process (the parent) starts N children, each `jobsvc serve` with the same command line
and --processes 1, and:

- one database for all: the parent starts the embedded PostgreSQL when no URL is given
  (the children would race to), and gives them its URL;
- one gRPC port for all (the parent picks a free one for --port 0), and the same HTTP
  port: both are bound with SO_REUSEPORT, and the kernel spreads new connections over
  the processes;
- a metrics port each when metrics are on: --metrics-port + index (a scrape of one port
  would see one process);
- SIGTERM and SIGINT are passed on to every child (a second one too: it cuts the drain
  delay), and the parent ends when they all have;
- when a child ends on its own (a crash, an OOM kill), the parent stops the others and
  ends with its exit code: whatever restarts the service (systemd, Kubernetes) restarts
  it whole, as it would restart one process. A job the dead child was running runs again
  after its lease, as with any crashed replica;
- when the parent ends without stopping them (SIGKILL), each child notices within a
  second (`parent_gone`) and stops as on SIGTERM: no orphan keeps the port, and a restart
  of the service does not find the old children still serving beside the new ones.

Each child is a replica like any other: the delivery contract does not care that they
share a machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence

from jobsvc.server import default_data_dir
from jobsvc.store.embedded import EmbeddedPostgres

# What `jobsvc serve` prints last, once it serves: tools wait for it (a parent of --processes
# prints it once every child has).
READY_LINE = "jobsvc listening on "
# Bound on a child's start (migrations, handler imports, the embedded database's first run).
START_TIMEOUT = 120.0
# The parent's pid, in each child's environment (see parent_gone).
PARENT_PID_ENV = "JOBSVC_PROCESSES_PARENT"
# How often a child looks for its parent.
PARENT_CHECK_SECONDS = 1.0


def when_parent_gone(stop: Callable[[], None]) -> asyncio.Task[None]:
    """Call stop once the parent of this --processes child has ended (see parent_gone);
    cancel the task returned to stop watching. The parent's pid is taken out of the
    environment, so that no process this one starts (a handler's) inherits it and takes
    this one's parent for its own."""
    parent = os.environ.pop(PARENT_PID_ENV, None)
    watch = asyncio.create_task(parent_gone(None if parent is None else int(parent)))
    watch.add_done_callback(lambda task: None if task.cancelled() else stop())
    return watch


async def parent_gone(parent: int | None) -> None:
    """Return once the process `parent` is no longer this one's parent; never when None
    (a server that is not a child of --processes). (Polled: a process whose parent ends
    is re-parented, so its parent pid changes. The kernel's parent-death signal would be
    quicker, but Linux-only.)"""
    if parent is None:
        await asyncio.Event().wait()
    while os.getppid() == parent:  # noqa: ASYNC110 (no event tells a process its parent ended)
        await asyncio.sleep(PARENT_CHECK_SECONDS)


async def serve_processes(args: argparse.Namespace, command_line: Sequence[str]) -> int:
    """Run args.processes `jobsvc serve` children (see the module docstring) until a signal
    or until one ends; the exit code is the first child's to end on its own, else 0."""
    embedded = None
    url = args.database_url
    if not url:
        embedded = EmbeddedPostgres(args.data_dir or default_data_dir(), adopt=True)
        url = await asyncio.to_thread(embedded.start)
    try:
        return await _Supervisor(args, command_line, url).run()
    finally:
        if embedded is not None:
            embedded.stop()


class _Supervisor:
    def __init__(self, args: argparse.Namespace, command_line: Sequence[str], database_url: str) -> None:
        self._args = args
        self._command_line = list(command_line)
        self._database_url = database_url
        self._port = args.port or _free_port(args.host)
        self._children: list[asyncio.subprocess.Process] = []
        self._stopping = False
        # Set when a child says it listens or ends.
        self._changed = asyncio.Event()

    def _child_command(self, index: int) -> list[str]:
        # Later options win: the children's overrides go after the command line as given.
        command = [sys.executable, "-m", "jobsvc.cli", *self._command_line, "--processes", "1"]
        command += ["--port", str(self._port), "--database-url", self._database_url]
        if self._args.metrics_port:
            command += ["--metrics-port", str(self._args.metrics_port + index)]
        return command

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._pass_on, sig)
        try:
            ready = [asyncio.Event() for _ in range(self._args.processes)]
            for index in range(self._args.processes):
                child = await asyncio.create_subprocess_exec(
                    *self._child_command(index),
                    stdout=asyncio.subprocess.PIPE,
                    env={**os.environ, PARENT_PID_ENV: str(os.getpid())},
                )
                self._children.append(child)
            relays = [asyncio.create_task(self._relay(i, c, ready[i])) for i, c in enumerate(self._children)]
            exits = [asyncio.create_task(c.wait()) for c in self._children]
            for waiting in exits:
                waiting.add_done_callback(lambda _: self._changed.set())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._until_ready_or_ended(ready, exits), START_TIMEOUT)
            if all(e.is_set() for e in ready):
                pids = ", ".join(str(c.pid) for c in self._children)
                where = f"{self._args.host}:{self._port}"
                print(f"{READY_LINE}{where} ({len(self._children)} processes: {pids})", flush=True)
            await asyncio.wait(exits, return_when=asyncio.FIRST_COMPLETED)
            code = 0
            if not self._stopping:
                ended = next(c for c in self._children if c.returncode is not None)
                # A child killed by a signal ends the parent as a shell reports it: 128 + the signal.
                returned = ended.returncode or 0
                code = returned if returned > 0 else 128 - returned if returned < 0 else 1
                print(f"jobsvc: process {ended.pid} ended (exit code {ended.returncode}); stopping the others")
                self._signal_all(signal.SIGTERM)
            await asyncio.gather(*exits)
            await asyncio.gather(*relays, return_exceptions=True)
            print("jobsvc stopped", flush=True)
            return code
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            for child in self._children:  # whatever went wrong here, no child outlives the parent
                if child.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        child.kill()
                    await child.wait()

    async def _until_ready_or_ended(self, ready: list[asyncio.Event], exits: list[asyncio.Task[int]]) -> None:
        while not all(e.is_set() for e in ready) and not any(x.done() for x in exits):
            self._changed.clear()
            await self._changed.wait()

    def _pass_on(self, sig: signal.Signals) -> None:
        self._stopping = True
        self._signal_all(sig)

    def _signal_all(self, sig: signal.Signals) -> None:
        for child in self._children:
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(sig)

    async def _relay(self, index: int, child: asyncio.subprocess.Process, ready: asyncio.Event) -> None:
        """A child's output, each line marked with the child's index; `ready` once it listens.
        Its "jobsvc listening on" line is said otherwise: tools wait for that line to know
        the service is ready, and only the parent's, once every child listens, says so."""
        assert child.stdout is not None
        async for raw in child.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith(READY_LINE):
                ready.set()
                self._changed.set()
                line = f"process {child.pid} ready"
            print(f"[{index}] {line}", flush=True)


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host.strip("[]"), 0))
        port: int = sock.getsockname()[1]
        return port
