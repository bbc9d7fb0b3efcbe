"""`jobsvc serve --processes N`: N server processes on one port, run by one parent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time

from jobsvc.sdk import Client
from jobsvc.v1 import job_pb2
from tests.processes import ServerProcess, jobsvc_serve

CHANNELS = 16  # new connections the kernel spreads over the processes (SO_REUSEPORT)


def _children(server: ServerProcess) -> list[int]:
    """The child pids the parent's ready line names."""
    server.wait_for(" processes: ")
    line = next(line for line in server.lines if " processes: " in line)
    return [int(pid) for pid in re.findall(r"\d+", line.split(" processes: ")[1])]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; its parent has not reaped it yet.
    with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/stat") as stat:
        return " Z " not in stat.read()
    return False


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


async def _executors(address: str) -> set[str]:
    """The pids of the executors that ran 3 Calls on each of CHANNELS new connections."""
    clients = [Client(address) for _ in range(CHANNELS)]
    try:
        jobs = await asyncio.gather(*(c.call("echo", i, timeout=20) for i in range(3) for c in clients))
        assert {j.state for j in jobs} == {job_pb2.JOB_STATE_SUCCEEDED}
        executors = set()
        for job in jobs:
            async for event in clients[0].stream(job.id):
                if event.WhichOneof("kind") == "started":
                    executors.add(event.started.executor.split(":")[1])
        return executors
    finally:
        await asyncio.gather(*(c.close() for c in clients))


def test_two_processes_share_the_port_and_stop_together(database_url: str) -> None:
    """Proves: --processes 2 starts two servers on one port, each running jobs (the
    executors of Calls made over 16 connections are both children); the parent says it
    listens once both do; SIGTERM to the parent stops both, exit code 0."""
    with jobsvc_serve("--processes", "2", "--database-url", database_url, "--handlers", "tests.handlers") as server:
        children = _children(server)
        assert len(children) == 2 and server.proc.pid not in children
        assert sum("jobsvc listening on" in line for line in server.lines) == 1, server.output
        pids = asyncio.run(_executors(server.address))
        assert pids == {str(pid) for pid in children}, (pids, children)
        assert server.terminate() == 0, server.output
        assert _wait_gone(children, 10) == [], server.output
        assert "jobsvc stopped" in server.lines[-1]


def test_when_one_process_dies_the_others_stop_and_the_exit_code_says_so(database_url: str) -> None:
    """Proves: a child killed (SIGKILL: an OOM kill, say) ends the parent, which stops the
    other child first and exits non-zero, so whatever restarts the service restarts it whole."""
    with jobsvc_serve("--processes", "2", "--database-url", database_url, "--handlers", "tests.handlers") as server:
        children = _children(server)
        os.kill(children[0], signal.SIGKILL)
        assert server.proc.wait(30) != 0, server.output
        assert _wait_gone(children, 10) == [], server.output
        assert f"process {children[0]} ended" in server.output


def test_when_the_parent_is_killed_its_children_stop(database_url: str) -> None:
    """Proves: SIGKILL of the parent (which cannot pass anything on) leaves no orphan
    serving the port: each child sees its parent gone and stops as on SIGTERM."""
    children: list[int] = []
    try:
        with jobsvc_serve(
            "--processes", "2", "--database-url", database_url, "--handlers", "tests.handlers", "--drain-delay", "0"
        ) as server:
            children = _children(server)
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait(10)
            assert _wait_gone(children, 20) == [], server.output
    finally:
        for pid in children:  # whatever failed above, no child outlives the test
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
