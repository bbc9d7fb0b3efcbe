"""Server replicas that die (kill -9) or are stopped (SIGTERM) under load."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import asyncpg
import pytest

from tests.conftest import StartServer
from tests.faults.children import Children, Replica
from tests.faults.ledger import Ledger, LedgerClient, check, until_ok
from tests.faults.records import Execution, Op
from tests.faults.scenario import cancel_all, spec, wait_until
from tests.faults.watchdog import Watchdog

pytestmark = pytest.mark.slow

LEASE = 2.0
# Child `jobsvc serve` replicas rescue expired leases every 5 s (+-20% jitter).
CHILD_RESCUE_INTERVAL = 6.0
RUNNING_ON = "SELECT job_id::text FROM fault_executions WHERE worker = $1 AND ended_at IS NULL"


async def _settle(clients: list[LedgerClient], kind: str, value: dict[str, object], key: str) -> Op:
    """One job, retried with its idempotency key on the next replica until it is settled."""
    timeout = 30.0 if kind == "call" else 5.0
    return await until_ok(
        clients, "call" if kind == "call" else "submit", spec("fault_work", value, key), timeout=timeout
    )


async def test_kill_9_of_a_replica_holding_worker_sessions_and_waiting_calls(
    children: Children, ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves: when a replica holding every worker session and a dozen waiting Calls is
    kill -9'd, the workers fail over to the other replica (re-announcing their leases and
    re-sending unconfirmed settlements), clients retrying with the same idempotency key on
    the other replica get their results, and nothing is lost or duplicated (L1-L7)."""
    rng = random.Random(7)
    doomed = await children.replica("replica-a")
    survivor = await children.replica("replica-b")
    # Both addresses, first one first: the workers' sessions are on replica-a until it dies.
    both = f"ipv4:{doomed.address},{survivor.address}"
    for name in ("w0", "w1"):
        await children.worker(both, name, lease=LEASE, concurrency=4)
    await wait_until(lambda: _sessions_on(doomed, 2), timeout=10, what="both sessions on replica-a")
    clients = [LedgerClient(ledger, doomed.address), LedgerClient(ledger, survivor.address)]
    tasks: list[asyncio.Future[Any]] = []
    try:
        async with Watchdog(ledger, ledger_dsn, tolerance=CHILD_RESCUE_INTERVAL + 1.5):
            work = [
                *(_settle(clients, "call", {"sleep": rng.uniform(1.0, 3.0)}, ledger.key("call")) for _ in range(12)),
                *(_settle(clients, "submit", {"sleep": rng.uniform(0.1, 1.0)}, ledger.key("sub")) for _ in range(20)),
            ]
            settled = asyncio.gather(*work)
            tasks.append(settled)
            await asyncio.sleep(1.0)  # Calls are waiting and jobs are running on the workers
            ledger.fault("kill -9 replica", doomed.kill())
            ops = await asyncio.wait_for(settled, 90)
        assert all(op.outcome == "ok" for op in ops), [op for op in ops if op.outcome != "ok"]
        calls = [op for op in ops if op.kind == "call"]
        assert {op.state for op in calls} == {"succeeded"}
        retried = [op for op in ledger.ops if op.kind == "call" and op.outcome != "ok"]
        assert retried, "no Call was cut by the kill: the scenario did not test anything"
        print(f"[faults] {len(retried)} Call(s) cut by the kill, each retried on replica-b and answered")
        counts = await check(ledger, ledger_dsn, ack_target=survivor.address, drain_timeout=30)
        assert counts.lost == 0 and counts.accepted == 32
    finally:
        await cancel_all(tasks)
        for client in clients:
            await client.close()


async def _sessions_on(replica: Replica, count: int) -> bool:
    return sum(replica.saw(f"worker session worker:w{i}:") for i in range(count)) == count


GRACE = 2.0
# Shutdown = grace for running jobs + up to 2 s for open RPCs (grpc stop) + closing.
SHUTDOWN_MARGIN = 3.0


async def test_sigterm_of_a_replica_under_load(
    start_server: StartServer, children: Children, ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves: on SIGTERM a replica under load exits cleanly within its grace period (plus
    a small margin); each job it was running either finished there or went back to the
    queue (a `requeued` event) and finished on the other replica; none stays running and
    the Calls it was holding are answered on the other replica (L1-L7)."""
    rng = random.Random(11)
    stopping = await children.replica("replica-a", handlers=["tests.faults.handlers"], grace=GRACE)
    other = await start_server(handler_modules=["tests.faults.handlers"])
    clients = [LedgerClient(ledger, stopping.address), LedgerClient(ledger, f"127.0.0.1:{other.port}")]
    conn = await asyncpg.connect(ledger_dsn)
    tasks: list[asyncio.Future[Any]] = []
    try:
        async with Watchdog(ledger, ledger_dsn, tolerance=2.0):
            sleeps = [rng.choice([0.2, 0.5, 1.0, 3.0, 5.0]) for _ in range(40)]
            work = [_settle(clients, "call", {"sleep": s}, ledger.key("call")) for s in sleeps[:16]]
            work += [_settle(clients, "submit", {"sleep": s}, ledger.key("sub")) for s in sleeps[16:]]
            settled = asyncio.gather(*work)
            tasks.append(settled)
            in_flight = await wait_until(
                lambda: _running_on(conn, "replica-a", 3), timeout=20, what="jobs running on replica-a"
            )
            signalled = stopping.terminate()
            code = await asyncio.to_thread(stopping.proc.wait, GRACE + 20)
            exited = time.time()
            ledger.fault("SIGTERM replica", signalled, exited, target="replica-a")
            ops = await asyncio.wait_for(settled, 90)
        print(f"[faults] SIGTERM with {len(in_flight)} job(s) running; exit {code} after {exited - signalled:.2f}s")
        assert code == 0, stopping.output()
        assert exited - signalled <= GRACE + SHUTDOWN_MARGIN, f"shutdown took {exited - signalled:.1f}s"
        assert all(op.outcome == "ok" for op in ops), [op for op in ops if op.outcome != "ok"]
        await check(ledger, ledger_dsn, ack_target=clients[1].target, drain_timeout=25)
        await _assert_finished_or_requeued(conn, in_flight, exited)
    finally:
        await cancel_all(tasks)
        for client in clients:
            await client.close()
        await conn.close()


async def _running_on(conn: asyncpg.Connection, worker: str, at_least: int) -> list[str] | None:
    running = [r["job_id"] for r in await conn.fetch(RUNNING_ON, worker)]
    return running if len(running) >= at_least else None


async def _assert_finished_or_requeued(conn: asyncpg.Connection, job_ids: list[str], exited: float) -> None:
    """Each job replica-a was running finished there before it exited, or was requeued."""
    for job_id in job_ids:
        rows = await conn.fetch(
            "SELECT worker, started_at, ended_at, outcome FROM fault_executions WHERE job_id = $1::uuid", job_id
        )
        mine = [
            Execution(job_id, "fault_work", 0, r["worker"], 0, r["started_at"], r["ended_at"], r["outcome"])
            for r in rows
            if r["worker"] == "replica-a"
        ]
        requeued = await conn.fetchval(
            "SELECT count(*) FROM jobsvc_job_events WHERE job_id = $1::uuid AND kind = 'requeued'", job_id
        )
        finished_there = any(e.outcome == "ok" and e.end is not None and e.end <= exited for e in mine)
        assert finished_there or requeued, (job_id, mine, requeued)
