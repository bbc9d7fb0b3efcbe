"""The finished-jobs roll-up (0012): maintenance counts the jobs finished since its
watermark into per-minute rows, and the overview (job_stats_by_version, the timeline) reads
those minutes plus only the jobs finished after the watermark, with the same answer as
counting every job of the window."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

import asyncpg
import pytest

from jobsvc.app.maintenance import Maintenance, MaintenanceConfig
from jobsvc.app.stats import bucket_seconds
from jobsvc.domain.jobs import RollupConfig
from jobsvc.sdk import Client
from jobsvc.store.postgres import PgStore, create_pool
from jobsvc.supervisor import Supervisor
from tests.conftest import FAST_MAINTENANCE, StartServer

# 120 finished jobs, one every 45 s going back 90 minutes: two handlers, every 7th failed,
# every 11th cancelled.
PLANT = """
INSERT INTO jobsvc_jobs (id, handler, version_selector, version, state, input, attempt,
                         created_at, run_at, order_at, started_at, finished_at)
SELECT gen_random_uuid(), CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END, '', '1.0.0',
       CASE WHEN i % 7 = 0 THEN 'failed' WHEN i % 11 = 0 THEN 'cancelled' ELSE 'succeeded' END,
       '1', 1, t, t, t, t, t
FROM generate_series(1, 120) AS i, LATERAL (SELECT now() - make_interval(secs => i * 45)) AS at(t)
"""
# What the overview must answer: every job finished from the start of the minute an hour ago.
BRUTE = """
SELECT handler, state, count(*) AS n FROM jobsvc_jobs
WHERE finished_at >= date_trunc('minute', now() - interval '1 hour') GROUP BY 1, 2
"""
WATERMARK = "SELECT through FROM jobsvc_finished_rollup"
WHOLE_BACKLOG = RollupConfig(lag_seconds=0, max_minutes=24 * 60)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PgStore]:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    try:
        yield PgStore(pool)
    finally:
        await pool.close()


async def _overview(store: PgStore) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for v in await store.job_stats_by_version(3600):
        found.update({(v.handler, "succeeded"): v.succeeded, (v.handler, "failed"): v.failed})
        found.update({(v.handler, "cancelled"): v.cancelled})
    return +found  # zero counts dropped


async def _timeline_total(store: PgStore) -> Counter[str]:
    total: Counter[str] = Counter()
    for b in await store.job_finished_timeline(3600, bucket_seconds(3600)):
        total.update({"succeeded": b.succeeded, "failed": b.failed, "cancelled": b.cancelled})
    return +total


async def test_the_overview_reads_the_rolled_up_minutes_and_only_the_jobs_since(
    store: PgStore, conn: asyncpg.Connection
) -> None:
    await conn.execute(PLANT)
    expected = Counter({(r["handler"], r["state"]): r["n"] for r in await conn.fetch(BRUTE)})
    by_state = Counter({state: sum(n for (_, s), n in expected.items() if s == state) for _, state in expected})
    assert await _overview(store) == expected  # before any roll-up: all from the jobs

    # A run covers at most max_minutes past the first job since the watermark: a backlog
    # takes several runs, each moving the watermark forward, never past now - lag.
    first = await store.job_finished_rollup(RollupConfig(lag_seconds=0, max_minutes=30))
    second = await store.job_finished_rollup(RollupConfig(lag_seconds=0, max_minutes=30))
    assert first is not None and second is not None and first < second
    through = await store.job_finished_rollup(RollupConfig(lag_seconds=60, max_minutes=24 * 60))
    now: datetime = await conn.fetchval("SELECT now()")
    assert through is not None and 60 <= (now - through).total_seconds() <= 65  # not a whole minute: now - lag
    since = await conn.fetchval("SELECT count(*) FROM jobsvc_jobs WHERE finished_at >= $1", through)
    assert since == 1  # the job finished 45 s ago waits for the next run
    rolled = await conn.fetchval("SELECT sum(succeeded + failed + cancelled) FROM jobsvc_finished_minutes")
    assert rolled + since == 120  # each job counted once, in the minutes or since the watermark

    assert await _overview(store) == expected  # the minutes before the watermark plus the jobs since
    assert await _timeline_total(store) == by_state

    # With the jobs gone (retention), the overview still counts what was rolled up: it is
    # read from the minutes, not from the jobs.
    await conn.execute("DELETE FROM jobsvc_jobs")
    assert sum((await _overview(store)).values()) == sum(expected.values()) - since
    # The next run moves the watermark on (nothing left to count); the counts stay.
    later = await store.job_finished_rollup(WHOLE_BACKLOG)
    assert later is not None and later > through
    assert sum((await _overview(store)).values()) == sum(expected.values()) - since


async def test_replicas_roll_up_once_and_open_transactions_hold_the_watermark_back(
    store: PgStore, conn: asyncpg.Connection, database_url: str
) -> None:
    await conn.execute(PLANT)
    other = await asyncpg.connect(database_url)
    try:
        # Another replica holds the watermark: this run does nothing.
        async with other.transaction():
            await other.execute("SELECT through FROM jobsvc_finished_rollup FOR UPDATE")
            assert await store.job_finished_rollup(WHOLE_BACKLOG) is None
        assert await conn.fetchval("SELECT count(*) FROM jobsvc_finished_minutes") == 0
        # A transaction still open may yet commit jobs finished at its start: the
        # watermark stays before that (unless it has been open longer than stall_seconds).
        async with other.transaction():
            began = await other.fetchval("SELECT now()")
            through = await store.job_finished_rollup(WHOLE_BACKLOG)
            assert through is not None and through <= began
            [row] = await store._fetch("job_open_transactions_since", stall_seconds=600)
            assert row["since"] == began
            [row] = await store._fetch("job_open_transactions_since", stall_seconds=0)
            assert row["since"] > began
    finally:
        await other.close()


async def test_maintenance_rolls_up_on_each_pass(store: PgStore, conn: asyncpg.Connection) -> None:
    await conn.execute(PLANT)
    config = MaintenanceConfig(rollup=RollupConfig(lag_seconds=0, max_minutes=24 * 60))
    maintenance = Maintenance(store, config, jobs_due=lambda _: None, supervisor=Supervisor())
    await maintenance.run_once(reap=False)
    assert await conn.fetchval("SELECT sum(succeeded + failed + cancelled) FROM jobsvc_finished_minutes") == 120


def test_timeline_buckets_are_whole_minutes() -> None:
    assert [bucket_seconds(w) for w in (1, 600, 3600, 7200, 86400)] == [60, 60, 60, 120, 1440]


async def test_an_idle_system_sends_no_roll_ups_and_work_resumes_them(
    start_server: StartServer, database_url: str
) -> None:
    """The roll-up runs while jobs change on any replica and stops once nothing has changed
    for idle_after seconds (the benchmark's idle load counts every statement); the next job
    starts it again. The watermark moves at every run, so a still watermark means none ran."""
    rollup = RollupConfig(lag_seconds=0.1, idle_after=1.0)
    server = await start_server(maintenance=replace(FAST_MAINTENANCE, rescue_interval=0.2, rollup=rollup))
    conn = await asyncpg.connect(database_url)
    try:
        async with Client(f"127.0.0.1:{server.port}") as client:
            await client.call("echo", 1, timeout=10)
            await asyncio.sleep(2.5)  # past idle_after, and several passes
            still = await conn.fetchval(WATERMARK)
            await asyncio.sleep(1.0)  # five passes, none of which rolls up
            assert await conn.fetchval(WATERMARK) == still
            await client.call("echo", 2, timeout=10)
            await asyncio.sleep(1.0)
            assert await conn.fetchval(WATERMARK) > still
    finally:
        await conn.close()
