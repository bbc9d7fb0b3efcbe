"""A stopping replica hands its remote workers' sessions to another replica instead of
holding their Work streams open until its grace period ends."""

from __future__ import annotations

import asyncio
import time

from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.sdk import Client, RemoteWorker, WorkerConfig
from jobsvc.v1 import job_pb2
from tests.conftest import StartServer

GRACE = 10.0


async def _until(probe: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_stopping_replica_hands_worker_sessions_to_another(start_server: StartServer) -> None:
    """Proves: stop() ends the Work streams of connected workers (status OK) as soon as it
    stops taking RPCs, so it does not wait out its grace period for them; the worker
    reconnects to the other replica, where the job it was running is settled (attempt 1,
    not re-run) and new jobs reach it."""
    leaving = await start_server(handler_modules=[], shutdown_grace=GRACE)
    staying = await start_server(handler_modules=[])
    assert leaving.ack is not None and staying.ack is not None
    table = HandlerTable(load_module("tests.handlers").handlers)
    # pick_first over both addresses: the first session is on `leaving`.
    target = f"ipv4:127.0.0.1:{leaving.port},127.0.0.1:{staying.port}"
    worker = RemoteWorker(target, table, config=WorkerConfig(worker_id="handoff", lease_seconds=5.0))
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.connected.wait(), 15)
        assert (leaving.ack.session_count, staying.ack.session_count) == (1, 0)
        async with Client(f"127.0.0.1:{staying.port}") as client:
            slow = asyncio.create_task(client.call("sleepy", {"seconds": 2.0}, timeout=60))
            await _until(lambda: worker._running, 15, "the job to run on the worker")
            began = time.monotonic()
            await leaving.stop()
            took = time.monotonic() - began
            await _until(lambda: staying.ack.session_count == 1, 15, "the worker's session on the other replica")
            job = await slow
            assert (job.state, job.attempt) == (job_pb2.JOB_STATE_SUCCEEDED, 1), job
            echoed = await client.call("echo", 5, timeout=30)
            assert echoed.result.json.number_value == 5
        print(f"[drain] stop took {took:.2f}s with a worker session open (grace {GRACE}s)")
        assert took < GRACE, "stop() waited for the Work stream instead of ending it"
    finally:
        worker.stop()
        await asyncio.wait_for(running, 30)
