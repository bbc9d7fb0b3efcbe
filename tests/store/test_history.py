"""The history (migration 0016): finished jobs move out of the live table into tables
partitioned by the day their retention ends; every way of reading a job reads them there
the same; retention drops whole days; the jobs something still finds by a key of the live
table stay in it; and moving and dropping race the hot path on two replicas without an
error or a lost job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import asyncpg
import pytest

from jobsvc.domain.jobs import HandlerSpec, JobError, JobState, NewJob, Payload, RollupConfig
from jobsvc.domain.operations import BulkAction, JobFilter
from jobsvc.store.postgres import PgStore, create_pool
from tests.store.conftest import HANDLER, SERVED, new

ROLL_UP_ALL = RollupConfig(lag_seconds=0, max_minutes=24 * 60)
LIVE = "SELECT count(*) FROM jobsvc_jobs WHERE id = ANY($1::uuid[])"
MOVED = "SELECT count(*) FROM jobsvc_jobs_history WHERE id = ANY($1::uuid[])"
MOVED_EVENTS = "SELECT count(*) FROM jobsvc_job_events_history WHERE job_id = ANY($1::uuid[])"
DAY_TABLES = (
    "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname ~ '^jobsvc_(jobs|job_events)_history_[0-9]{8}$'"
)
PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = $1::regclass ORDER BY 1
"""


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PgStore]:
    pool = await create_pool(database_url, min_size=1, max_size=6)
    try:
        opened = PgStore(pool)
        await opened.handler_register([HANDLER])
        yield opened
    finally:
        await pool.close()


async def _finish(
    store: PgStore, jobs: list[NewJob], state: JobState = JobState.SUCCEEDED, served: list[str] = SERVED
) -> list[str]:
    """Insert, claim and finish `jobs` (all of the handler `served` names); their ids."""
    inserted = await store.job_insert_many(jobs)
    ids = [job.id for job, _ in inserted]
    claims = await store.job_claim(served, "w", len(ids), 30, limited=False)
    assert sorted(c.job.id for c in claims) == sorted(ids)
    for claim in claims:
        if state is JobState.SUCCEEDED:
            await store.job_finish(claim.job.id, claim.attempt_token, state, result=Payload(json={"n": claim.job.id}))
        else:
            error = JobError("Boom", "it broke", non_retryable=True)
            await store.job_finish(claim.job.id, claim.attempt_token, state, error=error)
    return ids


async def _move_all(store: PgStore, *, now: datetime | None = None) -> int:
    """Roll up, then move everything finished before now; how many moved."""
    await store.job_finished_rollup(ROLL_UP_ALL)
    moved = 0
    while True:
        step = await store.job_history_move(0, 1000, now=now)
        moved += step.moved
        if not step.more:
            return moved


def _day_start(day_offset: int) -> datetime:
    today = datetime.now(UTC).date()
    return datetime.combine(today + timedelta(days=day_offset), time(), UTC)


async def test_the_history_has_its_live_tables_columns_after_expires_at(conn: asyncpg.Connection) -> None:
    """A row moves as `SELECT expires_at, j.*` and readers union the tables: a migration
    that adds a column to the live table must add it to the history too."""
    columns = """
    SELECT array_agg(attname::text || ' ' || format_type(atttypid, atttypmod) ORDER BY attnum)
    FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
    """
    for live, history in (("jobsvc_jobs", "jobsvc_jobs_history"), ("jobsvc_job_events", "jobsvc_job_events_history")):
        live_columns = await conn.fetchval(columns, live)
        assert await conn.fetchval(columns, history) == ["expires_at timestamp with time zone", *live_columns], (
            f"{history} must have expires_at and then exactly the columns of {live}, in order: "
            f"add the new column to both in the migration"
        )


async def test_a_moved_job_reads_the_same_everywhere(store: PgStore, conn: asyncpg.Connection) -> None:
    [job_id] = await _finish(store, [new({"x": 1}, labels={"team": "a"})])
    before = await store.job_get(job_id)
    basic = await store.job_get(job_id, payloads=False)
    events = await store.job_event_list(job_id, 0, 100)
    listed = await store.job_list([JobState.SUCCEEDED], None, 10, None)
    assert before is not None and events is not None and [j.id for j in listed.jobs] == [job_id]

    assert await _move_all(store) == 1
    assert await conn.fetchval(LIVE, [job_id]) == 0
    assert await conn.fetchval(MOVED, [job_id]) == 1
    assert await conn.fetchval(MOVED_EVENTS, [job_id]) == len(events.events) == 3  # queued, started, succeeded

    assert await store.job_get(job_id) == before
    assert await store.job_get(job_id, payloads=False) == basic
    assert await store.job_event_list(job_id, 0, 100) == events
    assert await store.job_event_list(job_id, 2, 100) == replace(events, events=events.events[2:])
    for states in ([JobState.SUCCEEDED], []):
        assert await store.job_list(states, None, 10, None) == listed
    assert await store.job_list([], "echo", 10, None, labels={"team": "a"}) == listed
    assert (await store.job_list([JobState.QUEUED], None, 10, None)).jobs == []
    # Cancelling it is refused as for any finished job, not as for an unknown one.
    with pytest.raises(Exception, match="already finished"):
        await store.job_cancel(job_id, "too late")


async def test_a_listing_pages_through_the_live_table_and_the_history_as_one(store: PgStore) -> None:
    older = await _finish(store, [new(i) for i in range(5)])
    assert await _move_all(store) == 5
    newer = await _finish(store, [new(i) for i in range(5, 10)])
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await store.job_list([], None, 3, cursor)
        seen += [j.id for j in page.jobs]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(older + newer) and len(seen) == 10


async def test_the_jobs_found_by_a_key_of_the_live_table_stay_in_it(store: PgStore, conn: asyncpg.Connection) -> None:
    keyed = await _finish(store, [new("k", key="once")])
    cacheable = await _finish(store, [replace(new("c"), input_hash="h1")])
    dead = await _finish(store, [new("d")], JobState.FAILED)
    redriven = await _finish(store, [new("r")], JobState.FAILED)
    plain = await _finish(store, [new("p")])
    [copy] = await store.job_redrive(redriven, None, None, 10)

    assert await _move_all(store) == 2  # the redriven original and the plain job
    assert await conn.fetchval(MOVED, redriven + plain) == 2
    assert await conn.fetchval(LIVE, keyed + cacheable + dead + [copy.id]) == 4
    # Failed jobs list from both tables (the history's through its index of the unsucceeded).
    failed = await store.job_list([JobState.FAILED], None, 10, None)
    assert sorted(j.id for j in failed.jobs) == sorted(dead + redriven)
    # Each was looked at once: the next move walks nothing until more jobs finish.
    step = await store.job_history_move(0, 1000)
    assert (step.walked, step.moved) == (0, 0)
    # The key still finds its job.
    [(again, created)] = await store.job_insert_many([new("k", key="once")])
    assert again.id == keyed[0] and not created


async def test_retention_drops_whole_days_across_a_boundary(store: PgStore, conn: asyncpg.Connection) -> None:
    """Jobs whose retention ends late tomorrow and early the day after, in two partitions:
    a drop at the boundary removes tomorrow's whole, the other day's stays readable."""
    now = datetime.now(UTC)
    boundary = _day_start(2)
    late = (boundary - timedelta(minutes=30) - now).total_seconds()
    early = (boundary + timedelta(minutes=30) - now).total_seconds()
    first = await _finish(store, [replace(new(i), retention=late) for i in range(3)])
    second = await _finish(store, [replace(new(i), retention=early) for i in range(3)])
    assert await _move_all(store) == 6
    partitions = await conn.fetch(PARTITIONS, "jobsvc_jobs_history")
    assert len(partitions) == 2

    assert await store.job_history_drop(now=boundary - timedelta(seconds=1)) == []
    assert await store.job_history_drop(now=boundary) == [(boundary - timedelta(days=1)).date()]
    for job_id in first:
        assert await store.job_get(job_id) is None
        assert await store.job_event_list(job_id, 0, 10) is None
    for job_id in second:
        got = await store.job_get(job_id)
        assert got is not None and got.state is JobState.SUCCEEDED
    assert await conn.fetchval(MOVED_EVENTS, second) == 9
    assert len(await conn.fetch(PARTITIONS, "jobsvc_job_events_history")) == 1
    # Nothing was deleted row by row: the day's tables are gone.
    assert await conn.fetchval(DAY_TABLES) == 2

    assert await store.job_history_drop(now=boundary + timedelta(days=1)) == [boundary.date()]
    assert await conn.fetchval(DAY_TABLES) == 0


async def test_a_drop_that_stopped_half_way_is_finished_by_the_next(
    store: PgStore, conn: asyncpg.Connection, database_url: str
) -> None:
    """A replica that dies between the detach and the drop leaves a detached table; one
    whose DETACH CONCURRENTLY was cancelled leaves it pending: the next drop ends both."""
    await _finish(store, [replace(new(i), retention=60) for i in range(2)])
    assert await _move_all(store) == 2
    [jobs_part] = [r["relname"] for r in await conn.fetch(PARTITIONS, "jobsvc_jobs_history")]
    [events_part] = [r["relname"] for r in await conn.fetch(PARTITIONS, "jobsvc_job_events_history")]
    # The jobs' partition: detached, not dropped.
    await conn.execute(f"ALTER TABLE jobsvc_jobs_history DETACH PARTITION {jobs_part}")
    # The events' partition: its DETACH CONCURRENTLY cancelled while it waited for a reader
    # that began before it (in its second transaction, once the partition is marked
    # pending), which leaves it pending.
    pending = "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = $1::regclass"
    reader, detacher = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        async with reader.transaction(isolation="repeatable_read"):
            await reader.fetchval("SELECT count(*) FROM jobsvc_job_events_history")
            sql = f"ALTER TABLE jobsvc_job_events_history DETACH PARTITION {events_part} CONCURRENTLY"
            detach = asyncio.create_task(detacher.execute(sql))
            for _ in range(200):  # 10 s
                if await conn.fetchval(pending, events_part):
                    break
                await asyncio.sleep(0.05)
            await conn.execute("SELECT pg_cancel_backend($1)", detacher.get_server_pid())
            with pytest.raises(asyncpg.QueryCanceledError):
                await detach
    finally:
        await reader.close()
        await detacher.close()
    assert await conn.fetchval(pending, events_part) is True

    assert await store.job_history_drop(now=_day_start(2)) != []
    assert await conn.fetchval("SELECT count(*) FROM pg_class WHERE relname IN ($1, $2)", jobs_part, events_part) == 0


async def test_a_bulk_delete_reaches_the_history(store: PgStore, conn: asyncpg.Connection) -> None:
    moved = await _finish(store, [new(i) for i in range(3)])
    assert await _move_all(store) == 3
    live = await _finish(store, [new(i) for i in range(2)])
    everything = JobFilter(handler="echo")
    assert await store.operation_count(BulkAction.DELETE, everything) == 5
    assert await store.operation_count(BulkAction.CANCEL, everything) == 0
    assert await store.job_delete_many(moved + live) == 5
    assert await conn.fetchval(MOVED, moved) == 0 and await conn.fetchval(MOVED_EVENTS, moved) == 0


async def test_moving_and_dropping_race_the_hot_path_on_two_replicas(
    database_url: str, conn: asyncpg.Connection
) -> None:
    """Two replicas (two stores, two pools) each submit, claim and finish jobs while both
    move to the history and drop a day that is over, again and again: no statement fails,
    every job ends up once in the live table or the history, with all its events, and the
    day that was over is gone."""
    # A day of history already over, to be dropped while the rest goes on.
    old_day = _day_start(-2).date()
    await conn.execute("SELECT jobsvc_history_partition($1)", old_day)
    await conn.execute(
        """INSERT INTO jobsvc_jobs_history (expires_at, id, handler, version_selector, version, state, finished_at)
           SELECT $1::timestamptz + interval '1 hour', gen_random_uuid(), 'echo', '', '1.0.0', 'succeeded', now()
           FROM generate_series(1, 100)""",
        _day_start(-2),
    )
    pools = [await create_pool(database_url, min_size=1, max_size=4) for _ in range(2)]
    try:
        stores = [PgStore(pool) for pool in pools]
        # A handler per replica, so that each claims only the jobs it submitted.
        await stores[0].handler_register([HandlerSpec("left", "1.0.0"), HandlerSpec("right", "1.0.0")])
        stop = asyncio.Event()
        submitted: list[str] = []

        async def hot_path(store: PgStore, handler: str) -> None:
            for round_ in range(40):
                jobs = [new(round_, handler=handler) for _ in range(10)]
                submitted.extend(await _finish(store, jobs, served=[f"{handler}@1.0.0"]))
            stop.set()

        async def maintenance(store: PgStore) -> None:
            while not stop.is_set():
                await store.job_finished_rollup(ROLL_UP_ALL)
                await store.job_history_move(0, 25)
                await store.job_history_drop()
                await asyncio.sleep(0.01)

        await asyncio.wait_for(
            asyncio.gather(
                *(hot_path(s, h) for s, h in zip(stores, ("left", "right"), strict=True)),
                *(maintenance(s) for s in stores),
            ),
            timeout=120,
        )
        await _move_all(stores[0])
    finally:
        for pool in pools:
            await pool.close()

    assert len(submitted) == 800
    assert await conn.fetchval(LIVE, submitted) + await conn.fetchval(MOVED, submitted) == 800
    assert await conn.fetchval(MOVED, submitted) == 800
    assert await conn.fetchval(MOVED_EVENTS, submitted) == 3 * 800
    names = {r["relname"] for r in await conn.fetch(PARTITIONS, "jobsvc_jobs_history")}
    assert f"jobsvc_jobs_history_{old_day:%Y%m%d}" not in names and names
