"""The checker itself: each invariant it claims to check is shown failing on a history
that breaks it (a checker that cannot fail proves nothing), and passing on one that
does not. Pure functions over hand-made histories: no database, no processes."""

from __future__ import annotations

import pytest

from tests.faults.invariants import Findings, check_invariants
from tests.faults.records import DbView, Execution, Fault, JobRow, Op

pytestmark = pytest.mark.slow

JOB = "00000000-0000-4000-8000-000000000001"
OTHER = "00000000-0000-4000-8000-000000000002"


def _job(job_id: str = JOB, *, state: str = "succeeded", key: str = "k1", attempt: int = 1) -> JobRow:
    finished = 100.0 if state in ("succeeded", "failed", "cancelled") else None
    return JobRow(job_id, state, attempt, 3, key, 4, finished, attempt - 1)


def _run(start: float, end: float | None, outcome: str | None, *, attempt: int = 1, worker: str = "w1") -> Execution:
    return Execution(JOB, "fault_work", attempt, worker, 1, start, end, outcome)


def _ok_op(job_id: str = JOB, key: str = "k1", state: str = "") -> Op:
    return Op("submit", key, "t", 0.0, 1.0, "ok", "OK", job_id, state)


def _check(
    jobs: list[JobRow],
    events: dict[str, list[str]] | None = None,
    executions: list[Execution] | None = None,
    ops: list[Op] | None = None,
    faults: list[Fault] | None = None,
) -> Findings:
    ops = ops if ops is not None else [_ok_op()]
    view = DbView(
        {j.id: j for j in jobs},
        events if events is not None else {JOB: ["queued", "started", "succeeded"]},
        {JOB: executions if executions is not None else [_run(10, 11, "ok")]},
    )
    accepted = {op.job_id: op.key for op in ops if op.job_id}
    return check_invariants(accepted, {op.key for op in ops}, ops, faults or [], view)


def _invariants(found: Findings) -> set[str]:
    return {problem.split(":")[0] for problem in found.problems}


def test_a_clean_history_passes() -> None:
    """One job, asked for, run once, succeeded once."""
    found = _check([_job()])
    assert found.problems == [] and found.stats["terminal"] == 1 and found.stats["executions"] == 1


@pytest.mark.parametrize("jobs", [[], [_job(state="running")]], ids=["missing", "not-terminal"])
def test_l1_catches_a_lost_job(jobs: list[JobRow]) -> None:
    """An acknowledged job that is gone or never ends is lost."""
    found = _check(jobs, events={JOB: ["queued", "started"]}, executions=[])
    assert "L1" in _invariants(found) and found.stats["lost"] == 1


def test_l2_catches_a_job_nobody_asked_for() -> None:
    """A job whose key no client sent, and executions of a job that does not exist."""
    stray = _job(OTHER, key="nobody")
    done = ["queued", "started", "succeeded"]
    found = _check([_job(), stray], events={JOB: done, OTHER: done})
    assert _invariants(found) == {"L2"}
    view = DbView({}, {}, {OTHER: [_run(1, 2, "ok")]})
    assert "L2" in _invariants(check_invariants({}, set(), [], [], view))


def test_l3_catches_two_jobs_for_one_key() -> None:
    """Two jobs with one key, and one key answered with two ids."""
    twins = [_job(), _job(OTHER)]
    events = {JOB: ["queued", "started", "succeeded"], OTHER: ["queued", "started", "succeeded"]}
    found = _check(twins, events, ops=[_ok_op(), _ok_op(OTHER)])
    assert "L3" in _invariants(found)


def test_l4_catches_a_re_execution_outside_any_fault() -> None:
    """A job run twice with no failure and no fault in between; the same history is fine
    when a fault window covers the first execution."""
    runs = [_run(10, None, None), _run(20, 21, "ok", attempt=2)]
    events = {JOB: ["queued", "started", "retrying", "started", "succeeded"]}
    assert _invariants(_check([_job(attempt=2)], events, runs)) == {"L4"}
    killed = Fault("kill -9 worker", 10.5, 10.5, target="w1")
    found = _check([_job(attempt=2)], events, runs, faults=[killed])
    assert found.problems == [] and found.stats["re_executions"] == 1
    elsewhere = Fault("kill -9 worker", 10.5, 10.5, target="w2")
    assert _invariants(_check([_job(attempt=2)], events, runs, faults=[elsewhere])) == {"L4"}


def test_l4_counts_a_retry_after_a_handler_error_as_a_retry() -> None:
    """A handler that raised is retried per the policy: not a re-execution."""
    runs = [_run(10, 10.1, "error"), _run(11, 11.1, "ok", attempt=2)]
    events = {JOB: ["queued", "started", "retrying", "started", "succeeded"]}
    found = _check([_job(attempt=2)], events, runs)
    assert found.problems == [] and found.stats["retries"] == 1 and found.stats["re_executions"] == 0


def test_l4_catches_two_live_executions_and_attempts_over_the_policy() -> None:
    """Overlapping executions without a fault; more deliveries than max_attempts; an
    execution without a lease; an execution after the job ended."""
    overlapping = [_run(10, 15, "ok"), _run(12, 13, "ok", attempt=2)]
    events = {JOB: ["queued", "started", "started", "succeeded"]}
    found = _check([_job(attempt=2)], events, overlapping)
    assert any("still running" in p for p in found.problems)
    too_many = {JOB: ["queued", *["started", "retrying"] * 3, "started", "succeeded"]}
    assert "L4" in _invariants(_check([_job(attempt=4)], too_many, [_run(10, 11, "ok")]))
    unleased = [_run(10, 10.1, "error"), _run(11, 11.1, "ok")]
    assert "L4" in _invariants(_check([_job()], None, unleased))
    assert "L4" in _invariants(_check([_job()], None, [_run(100.5, 101, "ok")]))


def test_l6_catches_a_terminal_state_that_changed() -> None:
    """Two terminal events; events after the terminal one; a Call's answer overturned."""
    assert "L6" in _invariants(_check([_job()], {JOB: ["queued", "started", "failed", "succeeded"]}))
    assert "L6" in _invariants(_check([_job()], {JOB: ["queued", "started", "succeeded", "progress"]}))
    overturned = [_ok_op(state="failed")]
    assert _invariants(_check([_job()], ops=overturned)) == {"L6"}
