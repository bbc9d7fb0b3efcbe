"""The PostgreSQL store on its own: migrations, every named query, fencing, rescue and idempotency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from jobsvc.domain.errors import AlreadyExists
from jobsvc.domain.jobs import EventKind, HandlerSpec, JobError, JobSpec, JobState, NewJob, Payload, RetryPolicy
from jobsvc.store.embedded import EmbeddedPostgres
from jobsvc.store.postgres import PgStore, create_pool
from jobsvc.store.sql import migrations, queries


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PgStore]:
    pool = await create_pool(database_url, min_size=1, max_size=10)
    try:
        s = PgStore(pool)
        await s.handler_register([HandlerSpec("echo", "1.0.0")])
        yield s
    finally:
        await pool.close()


QUICK_RETRY = RetryPolicy(
    initial_interval=0.001,
    backoff_coefficient=1,
    maximum_interval=0.001,
    maximum_attempts=3,
    non_retryable_error_types=(),
)


def new(value: object = None, key: str | None = None, handler: str = "echo") -> NewJob:
    spec = JobSpec(handler, "", Payload(json=value), idempotency_key=key)  # type: ignore[arg-type]
    return NewJob(spec, "1.0.0", retry_policy=QUICK_RETRY)


async def test_concurrent_migrations_apply_each_file_once(pg: EmbeddedPostgres) -> None:
    conn = await asyncpg.connect(pg.dsn)
    await conn.execute("CREATE DATABASE fresh_migrations")
    await conn.close()
    pools = [await create_pool(pg.dsn_for("fresh_migrations"), min_size=1, max_size=1) for _ in range(3)]
    try:
        applied = await asyncio.gather(*(PgStore(p).migrate() for p in pools))
        assert sorted(v for a in applied for v in a) == [m.version for m in migrations()]
        assert await PgStore(pools[0]).migrate() == []
        rows = await pools[0].fetch("SELECT version FROM jobsvc_schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == [m.version for m in migrations()]
    finally:
        for p in pools:
            await p.close()


async def test_every_named_query_prepares_against_the_migrated_schema(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for name, sql in queries().items():
            if name.startswith(("migration_", "plan_")):  # session settings, run by the store tests
                continue
            await conn.prepare(sql)  # parse + plan: catches typos in rarely run queries
    finally:
        await conn.close()


async def test_stale_attempt_tokens_are_refused_and_change_nothing(store: PgStore) -> None:
    [(job, _)] = await store.job_insert_many([new(1)])
    [first] = await store.job_claim(["echo@1.0.0"], "a", 10, lease_seconds=0.01)
    await asyncio.sleep(0.05)
    [rescued] = await store.job_rescue_expired(10)
    assert rescued.job_id == job.id and rescued.next_run_at is not None
    assert rescued.state is JobState.QUEUED and rescued.attempt_failed
    await asyncio.sleep(0.01)  # the retry backoff
    [second] = await store.job_claim(["echo@1.0.0"], "b", 10, lease_seconds=30)
    assert second.job.attempt == 2 and second.attempt_token != first.attempt_token
    stale = first.attempt_token
    assert await store.job_event_append(job.id, stale, EventKind.PROGRESS, {"percent": 1.0}) is None
    assert not await store.job_finish(job.id, stale, JobState.SUCCEEDED, Payload(json="late"))
    assert not await store.job_requeue(job.id, stale, "late")
    assert await store.job_lease_extend([job.id], "a", 30) == {}
    current = await store.job_get(job.id)
    assert current is not None and current.state is JobState.RUNNING and current.last_seq == 4
    assert await store.job_finish(job.id, second.attempt_token, JobState.SUCCEEDED, Payload(json="ok"))
    done = await store.job_get(job.id)
    assert done is not None and done.result == Payload(json="ok")
    assert not await store.job_finish(job.id, second.attempt_token, JobState.FAILED)  # terminal is final


async def test_racing_rescuers_rescue_each_expired_lease_exactly_once(store: PgStore) -> None:
    await store.job_insert_many([new(i) for i in range(300)])
    claimed = await store.job_claim(["echo@1.0.0"], "dead", 300, lease_seconds=0.01)
    assert len(claimed) == 300
    await asyncio.sleep(0.05)
    rescued = await asyncio.gather(*(store.job_rescue_expired(1000) for _ in range(6)))
    ids = [change.job_id for batch in rescued for change in batch]
    assert len(ids) == len(set(ids)) == 300


async def test_idempotency_keys(store: PgStore) -> None:
    [(a, created_a)] = await store.job_insert_many([new({"x": 1}, key="k1")])
    [(b, created_b)] = await store.job_insert_many([new({"x": 1}, key="k1")])
    assert created_a and not created_b and a.id == b.id
    with pytest.raises(AlreadyExists):
        await store.job_insert_many([new({"x": 2}, key="k1")])
    results = await asyncio.gather(*(store.job_insert_many([new("same", key="k2")]) for _ in range(20)))
    assert len({r[0][0].id for r in results}) == 1
    assert sum(r[0][1] for r in results) == 1
    # Inside one batch: the second item with the same key is the first item's job.
    [(c, c_created), (d, d_created)] = await store.job_insert_many([new(5, key="k3"), new(5, key="k3")])
    assert c.id == d.id and c_created and not d_created


async def test_failed_attempts_retry_per_policy_then_dead_letter_with_history(store: PgStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    for attempt in (1, 2, 3):
        await asyncio.sleep(0.01)
        [claim] = await store.job_claim(["echo@1.0.0"], "w", 1, 30)
        assert claim.job.attempt == attempt
        outcome = await store.job_fail_attempt(job.id, claim.attempt_token, JobError("Boom", f"try {attempt}"))
        assert outcome is not None
        assert outcome.state is (JobState.QUEUED if attempt < 3 else JobState.FAILED)
        assert (outcome.handler, outcome.version, outcome.attempt) == ("echo", "1.0.0", attempt)
    dead = await store.job_get(job.id)
    assert dead is not None and dead.state is JobState.FAILED and dead.error is not None
    assert [(e.type, e.message, e.attempt) for e in dead.attempt_errors] == [
        ("Boom", "try 1", 1),
        ("Boom", "try 2", 2),
        ("Boom", "try 3", 3),
    ]
    [redriven] = await store.job_redrive([job.id], None, None, 10)
    assert redriven.redrive_of == job.id and redriven.state is JobState.QUEUED and redriven.attempt == 0
    assert await store.job_redrive([job.id], None, None, 10) == []  # once only
    original = await store.job_get(job.id)
    assert original is not None and original.state is JobState.FAILED  # terminal stays final


async def test_non_retryable_errors_fail_at_once(store: PgStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    [claim] = await store.job_claim(["echo@1.0.0"], "w", 1, 30)
    outcome = await store.job_fail_attempt(job.id, claim.attempt_token, JobError("Bad", "no", non_retryable=True))
    assert outcome is not None and outcome.state is JobState.FAILED


async def test_event_list_reads_the_jobs_state_with_its_events(store: PgStore) -> None:
    assert await store.job_event_list("00000000-0000-4000-8000-000000000000", 0, 10) is None
    [(job, _)] = await store.job_insert_many([new("x")])
    page = await store.job_event_list(job.id, 0, 10)
    assert page is not None and (page.state, page.last_seq) == (JobState.QUEUED, 1)
    assert [(e.seq, e.kind) for e in page.events] == [(1, EventKind.QUEUED)]
    [claim] = await store.job_claim(["echo@1.0.0"], "w", 1, 30)
    await store.job_finish(job.id, claim.attempt_token, JobState.SUCCEEDED, Payload(json="done"))
    page = await store.job_event_list(job.id, 1, 1)  # a page of one
    assert page is not None and (page.state, page.last_seq) == (JobState.SUCCEEDED, 3)
    assert [(e.seq, e.kind) for e in page.events] == [(2, EventKind.STARTED)]
    page = await store.job_event_list(job.id, 3, 10)  # after the last: no event, the state says why
    assert page is not None and page.events == [] and (page.state, page.last_seq) == (JobState.SUCCEEDED, 3)


async def test_cancelling_again_keeps_the_first_reason(store: PgStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    [claim] = await store.job_claim(["echo@1.0.0"], "w", 1, 30)
    asked = await store.job_cancel(job.id, "first")
    again = await store.job_cancel(job.id, "second")  # before the executor has stopped the job
    assert asked.state is again.state is JobState.RUNNING and again.cancel_requested
    assert await store.job_finish(job.id, claim.attempt_token, JobState.CANCELLED) is not None
    cancelled = await store.job_cancel(job.id, "third")  # a cancelled job: as it is
    assert cancelled.state is JobState.CANCELLED and cancelled.last_seq == 3
    page = await store.job_event_list(job.id, 2, 10)
    assert page is not None and [(e.kind, e.data) for e in page.events] == [(EventKind.CANCELLED, {"reason": "first"})]
