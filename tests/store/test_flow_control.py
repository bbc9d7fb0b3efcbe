"""Flow control in the store: concurrency slots, rate windows and fair order, with
several claimers racing on one database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from jobsvc.domain.flow import FlowKeys, WaitReason
from jobsvc.domain.jobs import HandlerSpec, JobError, JobSpec, JobState, NewJob, Payload, RetryPolicy
from jobsvc.store.postgres import PgStore, create_pool

SERVED = ["echo@1.0.0"]
ONE_ATTEMPT = RetryPolicy(1, 1, 1, 1, ())


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PgStore]:
    pool = await create_pool(database_url, min_size=1, max_size=20)
    try:
        s = PgStore(pool)
        await s.handler_register([HandlerSpec("echo", "1.0.0")])
        yield s
    finally:
        await pool.close()


def keyed(value: object = None, **keys: object) -> NewJob:
    spec = JobSpec("echo", "", Payload(json=value))  # type: ignore[arg-type]
    return NewJob(spec, "1.0.0", retry_policy=ONE_ATTEMPT, flow_keys=FlowKeys(**keys))  # type: ignore[arg-type]


async def running_per_key(store: PgStore) -> dict[str, int]:
    async with store._connection() as conn:
        rows = await conn.fetch("SELECT concurrency_key, count(*) FROM jobsvc_jobs WHERE state = 'running' GROUP BY 1")
        return {r[0]: r[1] for r in rows}


async def test_racing_claimers_never_exceed_a_concurrency_limit(store: PgStore) -> None:
    jobs = [keyed(i, concurrency_key=f"k{i % 3}", concurrency_limit=2) for i in range(60)]
    await store.job_insert_many(jobs)
    claims = await asyncio.gather(*(store.job_claim(SERVED, f"c{i}", 10, 30) for i in range(8)))
    claimed = [c for batch in claims for c in batch]
    assert len(claimed) == 6  # 3 keys x 2 slots, whoever won the races
    assert await running_per_key(store) == {"k0": 2, "k1": 2, "k2": 2}
    waiting = (await store.job_list([JobState.QUEUED], None, 1, None)).jobs[0]
    job = await store.job_get(waiting.id)
    assert job is not None and job.wait_reason is WaitReason.CONCURRENCY_LIMIT
    assert "concurrency limit: 2" in job.waiting_reason

    # Every way out of RUNNING gives the slot back: success, failure, requeue.
    first, second, third = claimed[:3]
    assert await store.job_finish(first.job.id, first.attempt_token, JobState.SUCCEEDED)
    assert await store.job_fail_attempt(second.job.id, second.attempt_token, JobError("E", "x"))
    assert await store.job_requeue(third.job.id, third.attempt_token, "shutdown")
    after = await running_per_key(store)
    assert sum(after.values()) == 3
    refill = await store.job_claim(SERVED, "c", 10, 30)
    assert len(refill) == 3
    assert await running_per_key(store) == {"k0": 2, "k1": 2, "k2": 2}


async def test_a_rescued_lease_frees_its_slot(store: PgStore) -> None:
    await store.job_insert_many([keyed(i, concurrency_key="solo", concurrency_limit=1) for i in range(2)])
    [dead] = await store.job_claim(SERVED, "dead-worker", 10, lease_seconds=0.01)
    assert await store.job_claim(SERVED, "other", 10, 30) == []
    await asyncio.sleep(0.05)
    rescued = await store.job_rescue_expired(100)
    assert [r.job_id for r in rescued] == [dead.job.id]
    [next_one] = await store.job_claim(SERVED, "other", 10, 30)
    assert next_one.job.id != dead.job.id
    async with store._connection() as conn:
        assert await conn.fetchval("SELECT running FROM jobsvc_concurrency WHERE key = 'solo'") == 1


async def counters(store: PgStore) -> dict[str, int]:
    async with store._connection() as conn:
        return {r[0]: r[1] for r in await conn.fetch("SELECT key, running FROM jobsvc_concurrency WHERE running > 0")}


async def test_the_counters_equal_the_running_jobs_after_racing_claims_and_finishes(store: PgStore) -> None:
    """Proves (migration 0017, slots counted once per key per statement): claimers and
    finishers racing on two keys for 30 rounds leave every counter equal to its key's
    running jobs (read in one snapshot), and within its limit, at every look."""
    await store.job_insert_many([keyed(i, concurrency_key=f"r{i % 2}", concurrency_limit=7) for i in range(400)])

    async def claim_and_finish(owner: str) -> None:
        for _ in range(30):
            claims = await store.job_claim(SERVED, owner, 5, 30)
            await asyncio.sleep(0)
            for claim in claims[::2]:
                await store.job_finish(claim.job.id, claim.attempt_token, JobState.SUCCEEDED)
            for claim in claims[1::2]:
                await store.job_requeue(claim.job.id, claim.attempt_token, "shutdown")
            # One statement, one snapshot: the counters and the jobs as of the same commits.
            async with store._connection() as conn:
                running, counted = await conn.fetchrow(
                    "SELECT (SELECT coalesce(jsonb_object_agg(concurrency_key, n), '{}') FROM ("
                    "   SELECT concurrency_key, count(*) AS n FROM jobsvc_jobs WHERE state = 'running'"
                    "   GROUP BY 1) r)::text,"
                    " (SELECT coalesce(jsonb_object_agg(key, running), '{}') FROM jobsvc_concurrency"
                    "   WHERE running > 0)::text"
                )
            assert running == counted, (running, counted)
            assert all(n <= 7 for n in json.loads(counted).values()), counted

    await asyncio.gather(*(claim_and_finish(f"c{i}") for i in range(4)))
    assert await counters(store) == await running_per_key(store) == {}
    assert await store.job_claim(SERVED, "last", 100, 30)  # and the slots are free again
    assert await counters(store) == await running_per_key(store)


async def test_a_claim_writes_each_key_counter_once(store: PgStore) -> None:
    """Proves: a claim of 50 jobs of one key, and their finish, write that key's counter
    once each (they wrote it once per job before 0017: 50 row versions for the next claim
    to read past), and the count is right."""
    await store.job_insert_many([keyed(i, concurrency_key="once", concurrency_limit=100) for i in range(50)])
    async with store._connection() as conn, conn.transaction():
        # pg_stat_xact_user_tables: this transaction's own writes, per table.
        writes = "SELECT n_tup_ins + n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'jobsvc_concurrency'"
        before = await conn.fetchval(writes)
        claimed = await conn.fetch(
            "UPDATE jobsvc_jobs SET state = 'running', attempt_token = gen_random_uuid() "
            "WHERE concurrency_key = 'once' AND state = 'queued' RETURNING id, attempt_token"
        )
        assert len(claimed) == 50
        assert await conn.fetchval(writes) - before == 1
        assert await conn.fetchval("SELECT running FROM jobsvc_concurrency WHERE key = 'once'") == 50
        await conn.execute("UPDATE jobsvc_jobs SET state = 'succeeded' WHERE concurrency_key = 'once'")
        assert await conn.fetchval(writes) - before == 2
        assert await conn.fetchval("SELECT running FROM jobsvc_concurrency WHERE key = 'once'") == 0


async def test_a_statement_rolled_back_to_a_savepoint_leaves_the_counter_as_it_was(store: PgStore) -> None:
    """Proves: the changes a statement notes are undone with it (a subtransaction rolled
    back), so the next statement does not apply them."""
    await store.job_insert_many([keyed(i, concurrency_key="sp", concurrency_limit=10) for i in range(3)])
    async with store._connection() as conn, conn.transaction():
        await conn.execute("UPDATE jobsvc_jobs SET state = 'running' WHERE concurrency_key = 'sp' AND input = '0'")
        with pytest.raises(asyncpg.CheckViolationError):
            async with conn.transaction():
                # Two rows move to RUNNING, then the statement fails: nothing may stay noted.
                await conn.execute(
                    "UPDATE jobsvc_jobs SET state = CASE WHEN input = '2' THEN 'bogus' ELSE 'running' END "
                    "WHERE concurrency_key = 'sp'"
                )
        await conn.execute("UPDATE jobsvc_jobs SET priority = 1 WHERE concurrency_key = 'sp'")
        await conn.execute("UPDATE jobsvc_jobs SET state = 'running' WHERE concurrency_key = 'sp' AND input = '1'")
    assert await counters(store) == {"sp": 2} == await running_per_key(store)


async def test_a_slot_freed_on_a_full_key_wakes_claim_loops(store: PgStore, database_url: str) -> None:
    """Proves: leaving RUNNING on a key at its limit sends the NOTIFY that makes claim
    loops look again; on a key below its limit, none (a limit not binding costs nothing)."""
    await store.job_insert_many([keyed(i, concurrency_key="full", concurrency_limit=2) for i in range(3)])
    await store.job_insert_many([keyed(i, concurrency_key="roomy", concurrency_limit=50) for i in range(2)])
    claims = {c.job.concurrency_key: c for c in await store.job_claim(SERVED, "c", 10, 30)}
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener("jobsvc_jobs", lambda *args: heard.put_nowait(args[3]))
        roomy = claims["roomy"]
        assert await store.job_finish(roomy.job.id, roomy.attempt_token, JobState.SUCCEEDED)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(heard.get(), 0.5)
        full = claims["full"]
        assert await store.job_finish(full.job.id, full.attempt_token, JobState.SUCCEEDED)
        assert await asyncio.wait_for(heard.get(), 5) == ""
    finally:
        await listener.close()


async def test_jobs_over_a_limit_do_not_hold_back_other_jobs(store: PgStore) -> None:
    # 40 jobs of a full key ahead of 5 free jobs: a claim of 10 still finds the free ones.
    await store.job_insert_many([keyed(i, concurrency_key="busy", concurrency_limit=1) for i in range(40)])
    await store.job_insert_many([keyed(f"free{i}") for i in range(5)])
    claimed = await store.job_claim(SERVED, "c", 10, 30)
    assert len(claimed) == 6
    assert sorted(str(c.job.input.json) for c in claimed if c.job.concurrency_key is None) == [
        f"free{i}" for i in range(5)
    ]


async def test_rate_window_is_exact_under_racing_claimers(store: PgStore) -> None:
    await store.job_insert_many([keyed(i, rate_key="r", rate_limit=5, rate_period=0.5) for i in range(40)])
    retry_times = []
    store.jobs_due = retry_times.append
    claims = await asyncio.gather(*(store.job_claim(SERVED, f"c{i}", 10, 30) for i in range(6)))
    assert sum(len(c) for c in claims) == 5
    assert retry_times, "a full window must say when it opens"
    queued = (await store.job_list([JobState.QUEUED], None, 1, None)).jobs[0]
    assert (await store.job_get(queued.id)).wait_reason is WaitReason.RATE_LIMIT  # type: ignore[union-attr]
    starts = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while loop.time() < deadline and len(starts) < 40:
        for batch in await asyncio.gather(*(store.job_claim(SERVED, "c", 10, 30) for _ in range(3))):
            starts.extend(c.job.started_at for c in batch)
        await asyncio.sleep(0.02)
    async with store._connection() as conn:
        starts = sorted(r[0] for r in await conn.fetch("SELECT started_at FROM jobsvc_jobs WHERE state = 'running'"))
    assert len(starts) == 40
    for i, start in enumerate(starts):
        in_window = [s for s in starts[i:] if s - start < timedelta(seconds=0.5)]
        assert len(in_window) <= 5, f"{len(in_window)} starts within 0.5 s from {start}"


async def test_fair_order_gives_a_late_small_key_its_turn(store: PgStore) -> None:
    await store.job_insert_many([keyed(f"flood{i}", fairness_key="big", fairness_spacing=1.0) for i in range(200)])
    await store.job_insert_many([keyed(f"small{i}", fairness_key="small", fairness_spacing=1.0) for i in range(3)])
    first = await store.job_claim(SERVED, "c", 8, 30)
    names = [str(c.job.input.json) for c in first]
    # Round robin from the start: the small key's three are among the first few.
    assert {"small0", "small1", "small2"} <= set(names), names
    assert sorted(n for n in names if n.startswith("flood")) == [f"flood{i}" for i in range(5)]


async def test_queue_stats_count_the_queued_jobs_by_wait_reason(store: PgStore) -> None:
    """The overview's wait reasons agree with each job's: a full concurrency key, a delayed
    start, a retry's backoff, and a version that no worker serves (which outranks the rest)."""
    await store.job_insert_many([keyed(i, concurrency_key="one", concurrency_limit=1) for i in range(3)])
    await store.job_insert_many([keyed("free")])
    assert len(await store.job_claim(SERVED, "c", 10, 30)) == 2  # one of the key's, and the free one
    in_5_minutes = datetime.now(UTC) + timedelta(minutes=5)
    later = NewJob(JobSpec("echo", "", Payload(json=1), run_at=in_5_minutes), "1.0.0", retry_policy=ONE_ATTEMPT)
    await store.job_insert_many([later])
    await store.handler_register([HandlerSpec("orphan", "2.0.0")])
    async with store._connection() as conn:
        await conn.execute("UPDATE jobsvc_handlers SET last_seen_at = now() - interval '1 hour' WHERE name = 'orphan'")
    orphan = NewJob(JobSpec("orphan", "", Payload(json=1)), "2.0.0", retry_policy=ONE_ATTEMPT)
    await store.job_insert_many([orphan, NewJob(orphan.spec, "2.0.0", retry_policy=ONE_ATTEMPT)])
    stats = {s.handler: s for s in await store.job_stats_by_version(3600)}
    assert stats["echo"].queued == 2 and stats["echo"].running == 2 and stats["echo"].scheduled == 1
    assert stats["echo"].waiting == {WaitReason.CONCURRENCY_LIMIT: 2, WaitReason.SCHEDULED: 1}
    assert stats["orphan"].waiting == {WaitReason.NO_WORKER: 2}
