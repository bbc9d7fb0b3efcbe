"""The JobStore port's attempts: claim, lease extension, finish, failed attempts, requeue,
lease rescue, and the attempt tokens that fence every write of an attempt."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from jobsvc.domain.jobs import EventKind, JobError, JobState, Payload
from jobsvc.store.port import JobStore
from tests.store.conftest import SERVED, new


async def test_stale_attempt_tokens_are_refused_and_change_nothing(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new(1)])
    [first] = await store.job_claim(SERVED, "a", 10, lease_seconds=0.01)
    await asyncio.sleep(0.05)
    [rescued] = await store.job_rescue_expired(10)
    assert rescued.job_id == job.id and rescued.next_run_at is not None
    assert rescued.state is JobState.QUEUED and rescued.attempt_failed
    await asyncio.sleep(0.01)  # the retry backoff
    [second] = await store.job_claim(SERVED, "b", 10, lease_seconds=30)
    assert second.job.attempt == 2 and second.attempt_token != first.attempt_token
    stale = first.attempt_token
    assert await store.job_event_append(job.id, stale, EventKind.PROGRESS, {"percent": 1.0}) is None
    assert not await store.job_finish(job.id, stale, JobState.SUCCEEDED, Payload(json="late"))
    assert not await store.job_requeue(job.id, stale, "late")
    assert await store.job_fail_attempt(job.id, stale, JobError("Late", "too late")) is None
    assert await store.job_lease_extend([(job.id, stale)], 30) == {}
    current = await store.job_get(job.id)
    assert current is not None and current.state is JobState.RUNNING and current.last_seq == 4
    assert await store.job_finish(job.id, second.attempt_token, JobState.SUCCEEDED, Payload(json="ok"))
    done = await store.job_get(job.id)
    assert done is not None and done.result == Payload(json="ok")
    assert not await store.job_finish(job.id, second.attempt_token, JobState.FAILED)  # terminal is final


async def test_racing_rescuers_rescue_each_expired_lease_exactly_once(store: JobStore) -> None:
    await store.job_insert_many([new(i) for i in range(300)])
    claimed = await store.job_claim(SERVED, "dead", 300, lease_seconds=0.01)
    assert len(claimed) == 300
    await asyncio.sleep(0.05)
    rescued = await asyncio.gather(*(store.job_rescue_expired(1000) for _ in range(6)))
    ids = [change.job_id for batch in rescued for change in batch]
    assert len(ids) == len(set(ids)) == 300


async def test_failed_attempts_retry_per_policy_then_dead_letter_with_history(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    for attempt in (1, 2, 3):
        await asyncio.sleep(0.01)
        [claim] = await store.job_claim(SERVED, "w", 1, 30)
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


async def test_non_retryable_errors_fail_at_once(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    [claim] = await store.job_claim(SERVED, "w", 1, 30)
    outcome = await store.job_fail_attempt(job.id, claim.attempt_token, JobError("Bad", "no", non_retryable=True))
    assert outcome is not None and outcome.state is JobState.FAILED


async def test_claims_lease_due_jobs_of_served_versions_by_priority(store: JobStore) -> None:
    inserted = await store.job_insert_many([new("low"), new("high", priority=5), new("other", handler="other")])
    low, high, _other = (job for job, _ in inserted)
    before = datetime.now(UTC)
    # Chosen in hand-out order (the batch itself comes back in no particular order).
    claims = [*await store.job_claim(SERVED, "w", 1, 30), *await store.job_claim(SERVED, "w", 10, 30)]
    assert [c.job.id for c in claims] == [high.id, low.id]  # priority first; "other" is not served
    for claim in claims:
        assert claim.job.state is JobState.RUNNING and claim.job.attempt == 1 and claim.job.last_seq == 2
        assert claim.lease_deadline is not None and claim.lease_deadline >= before + timedelta(seconds=29)
        assert claim.attempt_deadline is None  # no attempt timeout
    assert await store.job_claim(SERVED, "w2", 10, lease_seconds=30) == []  # leased once
    page = await store.job_event_list(high.id, 0, 10)
    assert page is not None and [(e.kind, e.data) for e in page.events] == [
        (EventKind.QUEUED, {"handler": "echo", "version": "1.0.0"}),
        (EventKind.STARTED, {"attempt": 1, "executor": "w"}),
    ]


async def test_claims_stop_at_the_limit(store: JobStore) -> None:
    await store.job_insert_many([new(i) for i in range(5)])
    assert len(await store.job_claim(SERVED, "w", 3, 30)) == 3
    assert len(await store.job_claim(SERVED, "w", 3, 30, limited=False)) == 2


async def test_finishing_an_attempt_stores_the_outcome_and_logs_it(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    [claim] = await store.job_claim(SERVED, "w", 1, 30)
    outcome = await store.job_finish(job.id, claim.attempt_token, JobState.SUCCEEDED, Payload(json={"y": 1}))
    assert outcome is not None and outcome.state is JobState.SUCCEEDED and outcome.attempt == 1
    assert (outcome.handler, outcome.version) == ("echo", "1.0.0") and not outcome.attempt_failed
    done = await store.job_get(job.id)
    assert done is not None and done.state is JobState.SUCCEEDED and done.result == Payload(json={"y": 1})
    assert done.finished_at is not None and done.last_seq == 3
    page = await store.job_event_list(job.id, 2, 10)
    assert page is not None and [(e.kind, e.payload) for e in page.events] == [
        (EventKind.SUCCEEDED, Payload(json={"y": 1}))
    ]


async def test_a_failed_outcome_keeps_its_error(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    [claim] = await store.job_claim(SERVED, "w", 1, 30)
    error = JobError("Broken", "it broke", attempt=1)
    assert await store.job_finish(job.id, claim.attempt_token, JobState.FAILED, error=error) is not None
    failed = await store.job_get(job.id)
    assert failed is not None and failed.state is JobState.FAILED and failed.error == error and failed.result is None


async def test_a_retry_delay_given_by_the_attempt_overrides_the_backoff(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    [claim] = await store.job_claim(SERVED, "w", 1, 30)
    before = datetime.now(UTC)
    outcome = await store.job_fail_attempt(job.id, claim.attempt_token, JobError("Later", "x"), retry_delay=3600)
    assert outcome is not None and outcome.state is JobState.QUEUED and outcome.next_run_at is not None
    assert outcome.next_run_at >= before + timedelta(seconds=3599)
    assert await store.job_claim(SERVED, "w", 1, 30) == []  # not due for an hour
    queued = await store.job_get(job.id)
    assert queued is not None and queued.run_at == outcome.next_run_at and queued.attempt == 1


async def test_lease_extension_keeps_only_the_leases_still_held(store: JobStore) -> None:
    inserted = await store.job_insert_many([new(1), new(2)])
    a, b = (job for job, _ in inserted)
    claims = {c.job.id: c for c in await store.job_claim(SERVED, "w", 2, lease_seconds=1)}
    await store.job_cancel(b.id, "stop")
    tokens = {job_id: claim.attempt_token for job_id, claim in claims.items()}
    held = await store.job_lease_extend([(a.id, tokens[a.id]), (b.id, tokens[b.id])], 60)
    assert {job_id: cancel for job_id, (cancel, _) in held.items()} == {a.id: False, b.id: True}
    assert await store.job_lease_extend([(a.id, tokens[b.id])], 60) == {}  # another attempt's token
    extended = await store.job_lease_extend([(a.id, tokens[a.id])], 120)
    cancel_requested, deadline = extended[a.id]
    assert not cancel_requested and deadline > datetime.now(UTC) + timedelta(seconds=110)
    await store.job_lease_shorten("w", 0)
    await asyncio.sleep(0.01)
    rescued = await store.job_rescue_expired(10)
    assert {r.job_id for r in rescued} == {a.id, b.id}


async def test_requeue_gives_the_attempt_back_without_counting_it(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    [first] = await store.job_claim(SERVED, "w", 1, 30)
    assert await store.job_requeue(job.id, first.attempt_token, "shutting down")
    assert not await store.job_requeue(job.id, first.attempt_token, "again")  # the token is spent
    [second] = await store.job_claim(SERVED, "w2", 1, 30)
    assert second.job.id == job.id and second.job.attempt == 1
    page = await store.job_event_list(job.id, 2, 10)
    assert page is not None and [(e.kind, e.data) for e in page.events] == [
        (EventKind.REQUEUED, {"reason": "shutting down"}),
        (EventKind.STARTED, {"attempt": 1, "executor": "w2"}),
    ]


async def test_rescue_fails_expired_attempts_and_dead_letters_the_last(store: JobStore) -> None:
    job = (await store.job_insert_many([new("x")]))[0][0]
    for attempt in (1, 2, 3):
        await asyncio.sleep(0.01)  # the retry backoff
        [claim] = await store.job_claim(SERVED, "dying", 1, lease_seconds=0.001)
        assert claim.job.attempt == attempt
        await asyncio.sleep(0.01)
        [rescued] = await store.job_rescue_expired(10)
        assert rescued.attempt == attempt and rescued.attempt_failed
        assert rescued.state is (JobState.QUEUED if attempt < 3 else JobState.FAILED)
    dead = await store.job_get(job.id)
    assert dead is not None and dead.error is not None and dead.error.type == "jobsvc.LeaseExpired"
