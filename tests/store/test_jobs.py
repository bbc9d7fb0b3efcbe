"""The JobStore port's jobs: insert, get, list, idempotency, cancel, redrive, and the
event log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from jobsvc.domain.errors import AlreadyExists, FailedPrecondition, NotFound
from jobsvc.domain.flow import WaitReason
from jobsvc.domain.jobs import EventKind, JobError, JobState, Payload
from jobsvc.store.port import JobStore
from tests.store.conftest import SERVED, new

MISSING = "00000000-0000-4000-8000-000000000000"


async def test_an_inserted_job_reads_back_as_inserted(store: JobStore) -> None:
    [(job, created)] = await store.job_insert_many([new({"n": 1}, priority=3, labels={"team": "a"})])
    assert created and job.state is JobState.QUEUED and job.attempt == 0 and job.last_seq == 1
    read = await store.job_get(job.id)
    assert read is not None
    assert (read.id, read.handler, read.version, read.input, read.priority, read.labels) == (
        job.id,
        "echo",
        "1.0.0",
        Payload(json={"n": 1}),
        3,
        {"team": "a"},
    )
    assert (read.created_at, read.run_at, read.max_attempts) == (job.created_at, job.run_at, 3)
    assert read.result is None and read.error is None and read.started_at is None
    assert await store.job_get(MISSING) is None


async def test_the_basic_view_leaves_the_payloads_out(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new({"big": "x" * 10_000})])
    [claim] = await store.job_claim(SERVED, "w", 1, 30)
    await store.job_finish(job.id, claim.attempt_token, JobState.SUCCEEDED, Payload(json="done"))
    full = await store.job_get(job.id)
    basic = await store.job_get(job.id, payloads=False)
    assert full is not None and basic is not None
    assert full.input == Payload(json={"big": "x" * 10_000}) and full.result == Payload(json="done")
    assert basic.input == Payload(json=None) and basic.result == Payload(json=None)
    assert (basic.state, basic.last_seq, basic.finished_at) == (full.state, full.last_seq, full.finished_at)
    [listed] = (await store.job_list([], None, 10, None, payloads=False)).jobs
    assert listed.input == Payload(json=None) and listed.id == job.id


async def test_listing_is_newest_first_filtered_and_paged(store: JobStore) -> None:
    ids = []
    for i in range(5):  # one insert each: distinct creation times
        ids.append((await store.job_insert_many([new(i, handler="echo" if i % 2 == 0 else "other")]))[0][0].id)
    first = await store.job_list([], None, 2, None)
    assert [j.id for j in first.jobs] == ids[::-1][:2] and first.next_cursor is not None
    second = await store.job_list([], None, 2, first.next_cursor)
    assert [j.id for j in second.jobs] == ids[::-1][2:4]
    last = await store.job_list([], None, 2, second.next_cursor)
    assert [j.id for j in last.jobs] == ids[:1] and last.next_cursor is None
    echo = await store.job_list([], "echo", 10, None)
    assert [j.id for j in echo.jobs] == [ids[4], ids[2], ids[0]]
    [claim] = await store.job_claim(SERVED, "w", 1, 30)
    running = await store.job_list([JobState.RUNNING], None, 10, None)
    assert [j.id for j in running.jobs] == [claim.job.id]
    queued = await store.job_list([JobState.QUEUED, JobState.RUNNING], None, 10, None)
    assert len(queued.jobs) == 5


async def test_get_and_list_say_why_a_queued_job_waits(store: JobStore) -> None:
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    inserted = await store.job_insert_many([new("due"), new("later", run_at=in_an_hour), new("x", handler="nobody")])
    due, later, orphan = (job for job, _ in inserted)
    listed = {j.id: j for j in (await store.job_list([], None, 10, None)).jobs}
    for job, reason in ((due, WaitReason.NONE), (later, WaitReason.SCHEDULED), (orphan, WaitReason.NO_WORKER)):
        got = await store.job_get(job.id)
        assert got is not None and got.wait_reason is listed[job.id].wait_reason is reason
    got = await store.job_get(orphan.id)
    assert got is not None and got.waiting_reason == "no executor or worker serves nobody 1.0.0"


async def test_idempotency_keys(store: JobStore) -> None:
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


async def test_cancelling_a_queued_job_ends_it_at_once(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    cancelled = await store.job_cancel(job.id, "not needed")
    assert cancelled.state is JobState.CANCELLED and cancelled.finished_at is not None and cancelled.last_seq == 2
    assert await store.job_claim(SERVED, "w", 10, 30) == []
    page = await store.job_event_list(job.id, 1, 10)
    assert page is not None and [(e.kind, e.data) for e in page.events] == [
        (EventKind.CANCELLED, {"reason": "not needed"})
    ]
    with pytest.raises(NotFound):
        await store.job_cancel(MISSING, "no such job")


async def test_cancelling_again_keeps_the_first_reason(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    [claim] = await store.job_claim(SERVED, "w", 1, 30)
    asked = await store.job_cancel(job.id, "first")
    again = await store.job_cancel(job.id, "second")  # before the executor has stopped the job
    assert asked.state is again.state is JobState.RUNNING and again.cancel_requested
    assert await store.job_finish(job.id, claim.attempt_token, JobState.CANCELLED) is not None
    cancelled = await store.job_cancel(job.id, "third")  # a cancelled job: as it is
    assert cancelled.state is JobState.CANCELLED and cancelled.last_seq == 3
    page = await store.job_event_list(job.id, 2, 10)
    assert page is not None and [(e.kind, e.data) for e in page.events] == [(EventKind.CANCELLED, {"reason": "first"})]


async def test_a_finished_job_cannot_be_cancelled(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    [claim] = await store.job_claim(SERVED, "w", 1, 30)
    await store.job_finish(job.id, claim.attempt_token, JobState.SUCCEEDED, Payload(json=1))
    with pytest.raises(FailedPrecondition):
        await store.job_cancel(job.id, "too late")


async def test_redrive_by_handler_and_version(store: JobStore) -> None:
    inserted = await store.job_insert_many([new(1), new(2)])
    for claim in await store.job_claim(SERVED, "w", 2, 30):
        await store.job_fail_attempt(claim.job.id, claim.attempt_token, JobError("Bad", "x", non_retryable=True))
    assert await store.job_redrive(None, "echo", "9.9.9", 10) == []  # no dead job of that version
    redriven = await store.job_redrive(None, "echo", None, 10)
    assert sorted(j.redrive_of or "" for j in redriven) == sorted(job.id for job, _ in inserted)
    assert all(j.state is JobState.QUEUED and j.attempt == 0 for j in redriven)


async def test_event_list_reads_the_jobs_state_with_its_events(store: JobStore) -> None:
    assert await store.job_event_list(MISSING, 0, 10) is None
    [(job, _)] = await store.job_insert_many([new("x")])
    page = await store.job_event_list(job.id, 0, 10)
    assert page is not None and (page.state, page.last_seq) == (JobState.QUEUED, 1)
    assert [(e.seq, e.kind) for e in page.events] == [(1, EventKind.QUEUED)]
    [claim] = await store.job_claim(SERVED, "w", 1, 30)
    await store.job_finish(job.id, claim.attempt_token, JobState.SUCCEEDED, Payload(json="done"))
    page = await store.job_event_list(job.id, 1, 1)  # a page of one
    assert page is not None and (page.state, page.last_seq) == (JobState.SUCCEEDED, 3)
    assert [(e.seq, e.kind) for e in page.events] == [(2, EventKind.STARTED)]
    page = await store.job_event_list(job.id, 3, 10)  # after the last: no event, the state says why
    assert page is not None and page.events == [] and (page.state, page.last_seq) == (JobState.SUCCEEDED, 3)


async def test_events_append_in_order_and_progress_shows_on_the_job(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    [claim] = await store.job_claim(SERVED, "w", 1, 30)
    token = claim.attempt_token
    assert await store.job_event_append(job.id, token, EventKind.PROGRESS, {"percent": 10.0, "message": "a"}) == 3
    last = await store.job_event_append_many(
        job.id,
        token,
        [
            (EventKind.PARTIAL_OUTPUT, {}, Payload(json=[1, 2])),
            (EventKind.PROGRESS, {"percent": 50.0, "message": "half"}, None),
        ],
    )
    assert last == 5
    running = await store.job_get(job.id)
    assert running is not None and (running.progress_percent, running.progress_message) == (50.0, "half")
    page = await store.job_event_list(job.id, 2, 10)
    assert page is not None
    assert [(e.seq, e.kind, e.data, e.payload) for e in page.events] == [
        (3, EventKind.PROGRESS, {"percent": 10.0, "message": "a"}, None),
        (4, EventKind.PARTIAL_OUTPUT, {}, Payload(json=[1, 2])),
        (5, EventKind.PROGRESS, {"percent": 50.0, "message": "half"}, None),
    ]
