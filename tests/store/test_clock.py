"""The clock is the caller's: every JobStore method that decides by the time (what is due,
whose lease or deadline has passed, what has outlived its retention) takes `now`, so these
tests run an hour ahead instead of waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobsvc.domain.jobs import EventKind, JobSpec, JobState, NewJob, Payload
from jobsvc.domain.schedules import Schedule, Timing
from jobsvc.store.port import JobStore
from tests.store.conftest import QUICK_RETRY, SERVED, new


def in_(seconds: float) -> datetime:
    """A moment `seconds` from now."""
    return datetime.now(UTC) + timedelta(seconds=seconds)


@pytest.mark.parametrize("limited", [True, False], ids=["limited", "unlimited"])
async def test_a_job_due_in_an_hour_is_claimed_by_a_clock_two_hours_ahead(store: JobStore, limited: bool) -> None:
    [(job, _)] = await store.job_insert_many([new("later", run_at=in_(3600))])
    assert await store.job_claim(SERVED, "w", 10, 30, limited=limited) == []
    ahead = in_(7200)
    [claim] = await store.job_claim(SERVED, "w", 10, 30, limited=limited, now=ahead)
    assert claim.job.id == job.id and claim.job.started_at == ahead
    assert claim.lease_deadline == ahead + timedelta(seconds=30)


async def test_a_lease_is_rescued_once_the_clock_passes_it(store: JobStore) -> None:
    [(job, _)] = await store.job_insert_many([new("x")])
    [claim] = await store.job_claim(SERVED, "w", 1, lease_seconds=30)
    assert await store.job_rescue_expired(10) == []  # 30 s to go by the database's clock
    assert claim.lease_deadline is not None
    assert await store.job_rescue_expired(10, now=claim.lease_deadline) == []  # expired only after it
    [rescued] = await store.job_rescue_expired(10, now=claim.lease_deadline + timedelta(seconds=1))
    assert rescued.job_id == job.id and rescued.state is JobState.QUEUED and rescued.attempt_failed
    assert rescued.attempt_seconds is not None and rescued.attempt_seconds >= 30
    retried = await store.job_get(job.id)
    assert retried is not None and [e.type for e in retried.attempt_errors] == ["jobsvc.LeaseExpired"]


async def test_an_attempt_past_its_timeout_is_rescued_as_timed_out(store: JobStore) -> None:
    spec = JobSpec("echo", "", Payload(json="x"))
    [(job, _)] = await store.job_insert_many([NewJob(spec, "1.0.0", retry_policy=QUICK_RETRY, attempt_timeout=10)])
    ahead = in_(60)
    [claim] = await store.job_claim(SERVED, "w", 1, lease_seconds=300, now=ahead)
    # The lease never outlives the attempt's timeout.
    assert claim.attempt_deadline == claim.lease_deadline == ahead + timedelta(seconds=10)
    [rescued] = await store.job_rescue_expired(10, now=ahead + timedelta(seconds=11))
    assert rescued.job_id == job.id
    retried = await store.job_get(job.id)
    assert retried is not None and [e.type for e in retried.attempt_errors] == ["jobsvc.AttemptTimeout"]


async def test_deadlines_expire_by_the_clock(store: JobStore) -> None:
    late = JobSpec("echo", "", Payload(json="late"), priority=1, execution_timeout=60)
    unstarted = JobSpec("echo", "", Payload(json="unstarted"), schedule_to_start_timeout=600)
    inserted = await store.job_insert_many([NewJob(late, "1.0.0"), NewJob(unstarted, "1.0.0")])
    late_job, unstarted_job = (job for job, _ in inserted)
    [claim] = await store.job_claim(SERVED, "w", 1, 30)  # the one with the execution deadline (priority)
    assert claim.job.id == late_job.id
    assert await store.job_expire_deadlines(10) == []
    ahead = in_(120)
    [expired] = await store.job_expire_deadlines(10, now=ahead)
    assert expired.job_id == late_job.id and expired.state is JobState.FAILED and expired.attempt_seconds is None
    failed = await store.job_get(late_job.id)
    assert failed is not None and failed.state is JobState.FAILED and failed.finished_at == ahead
    assert failed.error is not None and failed.error.type == "jobsvc.DeadlineExceeded"
    [expired] = await store.job_expire_deadlines(10, now=in_(3600))
    assert expired.job_id == unstarted_job.id
    page = await store.job_event_list(unstarted_job.id, 1, 10)
    assert page is not None and [e.kind for e in page.events] == [EventKind.FAILED]
    assert page.events[0].data["error"]["type"] == "jobsvc.ScheduleToStartTimeout"  # type: ignore[index]


async def test_finished_jobs_are_reaped_once_the_clock_passes_their_retention(store: JobStore) -> None:
    spec = JobSpec("echo", "", Payload(json="x"))
    [(job, _)] = await store.job_insert_many([NewJob(spec, "1.0.0", retention=3600)])
    [claim] = await store.job_claim(SERVED, "w", 1, 30)
    await store.job_finish(job.id, claim.attempt_token, JobState.SUCCEEDED, Payload(json="done"))
    assert await store.job_reap_finished(10) == 0
    assert await store.job_reap_finished(10, now=in_(3500)) == 0
    assert await store.job_reap_finished(10, now=in_(3700)) == 1
    assert await store.job_get(job.id) is None
    assert await store.job_event_list(job.id, 0, 10) is None


async def test_schedules_are_due_by_the_clock_they_are_given(store: JobStore) -> None:
    tick = in_(3600).replace(microsecond=0)
    schedule = Schedule("hourly", JobSpec("echo", "", Payload(json=None)), Timing(every=3600))
    await store.schedule_create(schedule, tick)
    assert await store.schedule_due(in_(0), 10) == []
    [due] = await store.schedule_due(tick, 10)
    assert due.name == "hourly" and due.next_tick_at == tick
