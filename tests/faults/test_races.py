"""Races between replicas: one idempotency key submitted everywhere at once, and lease
rescuers running on every replica over the same expired leases."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
import pytest

from jobsvc.domain.jobs import JobSpec, NewJob, Payload
from jobsvc.store.postgres import PgStore, create_pool
from tests.conftest import StartServer
from tests.faults.ledger import Ledger, LedgerClient, check
from tests.faults.scenario import spec

pytestmark = pytest.mark.slow

SUBMITS_PER_KEY = 50
KEYS = 4


async def test_concurrent_submits_of_one_key_on_two_replicas_make_one_job(
    start_server: StartServer, ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves: 50 Submits of one idempotency key sent at once, spread over two replicas,
    all answer OK with the same job, and exactly one job exists (and runs once) per key;
    repeated for several keys (L1-L4, L6)."""
    replicas = [await start_server(handler_modules=["tests.faults.handlers"]) for _ in range(2)]
    clients = [LedgerClient(ledger, f"127.0.0.1:{r.port}") for r in replicas]
    try:
        for round_ in range(KEYS):
            job = spec("fault_work", {"sleep": 0.2, "round": round_}, ledger.key("shared"))
            ops = await asyncio.gather(*(clients[i % 2].submit(job, timeout=15) for i in range(SUBMITS_PER_KEY)))
            assert {op.outcome for op in ops} == {"ok"}, Counter(op.code for op in ops)
            assert len({op.job_id for op in ops}) == 1, Counter(op.job_id for op in ops)
        counts = await check(ledger, ledger_dsn, drain_timeout=20)
        conn = await asyncpg.connect(ledger_dsn)
        try:
            jobs = await conn.fetchval("SELECT count(*) FROM jobsvc_jobs")
        finally:
            await conn.close()
        assert jobs == counts.accepted == KEYS and counts.executions == KEYS
    finally:
        for client in clients:
            await client.close()


LEASES = 1000
# rescue batch sizes raced: small (many interleaved statements) and the maintenance default
RESCUE_BATCHES = (10, 1000)
RESCUERS_PER_REPLICA = 2
RETRYING_EVENTS = """
SELECT j.id::text, j.state, count(e.*) FILTER (WHERE e.kind = 'retrying') AS retrying,
       jsonb_array_length(j.attempt_errors) AS errors
FROM jobsvc_jobs j LEFT JOIN jobsvc_job_events e ON e.job_id = j.id
GROUP BY j.id
"""


async def _rescue_until_none(store: PgStore, batch: int) -> list[str]:
    """One replica's rescuer, run back to back until it finds nothing (bounded)."""
    rescued: list[str] = []
    for _ in range(LEASES):
        found = await store.job_rescue_expired(batch)
        if not found:
            break
        rescued.extend(change.job_id for change in found)
    return rescued


async def _expire_all(store: PgStore, conn: asyncpg.Connection) -> list[str]:
    """Make every job due and claim them all with a lease that has run out at once."""
    await conn.execute("UPDATE jobsvc_jobs SET run_at = now() - interval '1 second' WHERE state = 'queued'")
    claimed = await store.job_claim(["fault_work@1.0.0"], "doomed-executor", LEASES, 0.001)
    await asyncio.sleep(0.05)
    return [claim.job.id for claim in claimed]


async def test_rescuers_on_two_replicas_rescue_each_expired_lease_once(database_url: str) -> None:
    """Proves: rescuers of two replicas (separate pools, two loops each) racing over 1,000
    expired leases rescue each lease exactly once: every job has exactly one `retrying`
    event and one attempt error per round, nothing is rescued twice or missed; with small
    batches (many interleaved statements) and with the maintenance default batch."""
    pools = [await create_pool(database_url, min_size=2, max_size=4) for _ in range(2)]
    stores = [PgStore(pool) for pool in pools]
    conn = await asyncpg.connect(database_url)
    try:
        new = [
            NewJob(JobSpec("fault_work", "", Payload(json=i), idempotency_key=f"rescue-{i}"), "1.0.0")
            for i in range(LEASES)
        ]
        await stores[0].job_insert_many(new)
        for round_, batch in enumerate(RESCUE_BATCHES, start=1):
            expired = await _expire_all(stores[0], conn)
            assert len(expired) == LEASES
            rescuers = [_rescue_until_none(store, batch) for store in stores for _ in range(RESCUERS_PER_REPLICA)]
            rescued = await asyncio.gather(*rescuers)
            per_rescuer = [len(ids) for ids in rescued]
            per_replica = [
                sum(per_rescuer[i : i + RESCUERS_PER_REPLICA]) for i in range(0, len(rescued), RESCUERS_PER_REPLICA)
            ]
            flat = [job_id for ids in rescued for job_id in ids]
            twice = [job_id for job_id, n in Counter(flat).items() if n > 1]
            print(
                f"\n[ledger] rescuers batch={batch}: leases={LEASES} rescued={len(flat)} duplicates={len(twice)} "
                f"per-replica={per_replica} per-rescuer={per_rescuer}"
            )
            assert not twice and sorted(flat) == sorted(expired)
            await _assert_rescued_once_per_round(conn, round_)
    finally:
        await conn.close()
        for pool in pools:
            await pool.close()


async def _assert_rescued_once_per_round(conn: asyncpg.Connection, rounds: int) -> None:
    rows = await conn.fetch(RETRYING_EVENTS)
    assert len(rows) == LEASES
    wrong = [dict(r) for r in rows if (r["state"], r["retrying"], r["errors"]) != ("queued", rounds, rounds)]
    assert not wrong, wrong[:5]
