"""Flow control under faults: a concurrency slot held by a worker that is kill -9'd."""

from __future__ import annotations

import asyncpg
import pytest

from jobsvc.sdk import Client
from jobsvc.v1 import job_pb2
from tests.conftest import StartServer
from tests.faults.children import Children
from tests.faults.ledger import Ledger, LedgerClient, check
from tests.faults.scenario import executions_of, job_now, spec, wait_terminal, wait_until

pytestmark = pytest.mark.slow

LEASE = 2.0
RESCUE_INTERVAL = 0.6


async def test_a_killed_workers_slot_is_given_back_after_its_lease(
    start_server: StartServer, children: Children, ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves: with one slot per key, a worker kill -9'd while holding the slot blocks the
    key's other job only until its lease is rescued; then both jobs run, one at a time,
    on the surviving worker, and the counter ends at zero (the slot never leaks)."""
    server = await start_server(handler_modules=[])
    target = f"127.0.0.1:{server.port}"
    doomed = await children.worker(target, "doomed", lease=LEASE)
    client = LedgerClient(ledger, target)
    conn = await asyncpg.connect(ledger_dsn)
    try:
        holder = await client.submit(
            spec("fault_slot", {"key": "k", "sleep": [60, 0.3]}, ledger.key("holder")), timeout=10
        )
        await wait_until(lambda: executions_of(conn, holder.job_id), timeout=10, what="the holder's start")
        await children.worker(target, "survivor", lease=LEASE)
        waiter = await client.submit(spec("fault_slot", {"key": "k", "sleep": 0.3}, ledger.key("waiter")), timeout=10)
        async with Client(target) as plain:
            queued = await plain.get(waiter.job_id)
        assert queued.state == job_pb2.JOB_STATE_QUEUED
        assert queued.wait_reason == job_pb2.WAIT_REASON_CONCURRENCY_LIMIT, queued.waiting_reason
        killed_at = doomed.kill()
        ledger.fault("kill -9 worker", killed_at, target="doomed")
        done = await wait_terminal(conn, [holder.job_id, waiter.job_id], timeout=LEASE * 3 + RESCUE_INTERVAL + 10)
        assert {j.state for j in done.values()} == {"succeeded"}
        runs = sorted(
            [
                e
                for job in (holder.job_id, waiter.job_id)
                for e in await executions_of(conn, job)
                if e.worker == "survivor"
            ],
            key=lambda e: e.start,
        )
        assert len(runs) == 2
        assert runs[0].end is not None and runs[0].end <= runs[1].start, "two jobs of one key ran at once"
        assert runs[0].start >= killed_at + LEASE * 2 / 3 - 0.1, "the slot was given back before the lease ran out"
        assert (await job_now(conn, holder.job_id)).attempt == 2
        running = await conn.fetchval("SELECT running FROM jobsvc_concurrency WHERE key = 'k'")
        assert running == 0, "the slot leaked"
        counts = await check(ledger, ledger_dsn, ack_target=target)
        assert counts.lost == 0 and counts.re_executions == 1
    finally:
        await client.close()
        await conn.close()
