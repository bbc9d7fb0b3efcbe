"""The pure workflow rules: what check_workflow refuses, and a workflow's state."""

from __future__ import annotations

import time

import pytest

from jobsvc.domain.errors import InvalidArgument
from jobsvc.domain.jobs import JobSpec, JobState, Payload
from jobsvc.domain.limits import MAX_WORKFLOW_STEPS
from jobsvc.domain.workflows import (
    StepInput,
    StepMap,
    WorkflowSpec,
    WorkflowState,
    WorkflowStep,
    check_workflow,
    parse_path,
    workflow_state,
)

JOB = JobSpec("echo", "", Payload(None))


def step(name: str, *parents: str, inputs: tuple[StepInput, ...] = ()) -> WorkflowStep:
    return WorkflowStep(name, JOB, depends_on=parents, inputs=inputs)


def refused(*steps: WorkflowStep) -> list[tuple[str, str]]:
    with pytest.raises(InvalidArgument) as caught:
        check_workflow(WorkflowSpec("w", steps))
    return [(v.field, v.description) for v in caught.value.violations]


def test_a_cycle_is_named_step_by_step() -> None:
    assert refused(step("a"), step("b", "a", "d"), step("c", "b"), step("d", "c")) == [
        ("steps[1].depends_on", "a cycle: b <- d <- c <- b")
    ]


def test_every_bad_field_is_reported_at_once() -> None:
    found = refused(step("a", "a"), step("b", "zz"), step("a"), step("c", "b", inputs=(StepInput("a"),)))
    assert [field for field, _ in found] == [
        "steps[2].name",
        "steps[0].depends_on[0]",
        "steps[1].depends_on[0]",
        "steps[3].inputs[0].step",
    ]


def test_the_step_limit_is_checked_before_the_graph() -> None:
    started = time.monotonic()
    check_workflow(WorkflowSpec("w", tuple(step(f"s{i}", *([f"s{i - 1}"] if i else [])) for i in range(10_000))))
    assert MAX_WORKFLOW_STEPS == 10_000
    assert refused(*(step(f"s{i}") for i in range(100_001))) == [("steps", "at most 10000 steps")]
    assert time.monotonic() - started < 5


def test_a_deep_chain_finds_no_cycle_without_recursion() -> None:
    check_workflow(WorkflowSpec("w", tuple(step(f"s{i}", *([f"s{i - 1}"] if i else [])) for i in range(10_000))))


def test_paths() -> None:
    assert parse_path("") == () and parse_path("a.b.0") == ("a", "b", "0")
    assert refused(step("a"), step("b", "a", inputs=(StepInput("a", ("x", "")),))) == [
        ("steps[1].inputs[0].path", "an empty field name")
    ]


@pytest.mark.parametrize(
    ("states", "cancelled", "expected"),
    [
        ([(JobState.SUCCEEDED, False), (JobState.WAITING, False)], False, WorkflowState.RUNNING),
        ([(JobState.SUCCEEDED, False), (JobState.FAILED, True)], False, WorkflowState.SUCCEEDED),
        ([(JobState.FAILED, False), (JobState.CANCELLED, False)], False, WorkflowState.FAILED),
        ([(JobState.SUCCEEDED, False), (JobState.CANCELLED, False)], True, WorkflowState.CANCELLED),
        ([(JobState.SUCCEEDED, False)], True, WorkflowState.SUCCEEDED),
    ],
)
def test_the_state_of_a_workflow(states: list[tuple[JobState, bool]], cancelled: bool, expected: WorkflowState) -> None:
    assert workflow_state(states, cancelled) is expected


def test_a_map_names_a_parent_and_a_sane_limit() -> None:
    mapped = WorkflowStep("m", JOB, depends_on=("a",), map=StepMap("b", ("x", ""), "k", 0))
    assert refused(step("a"), step("b"), mapped) == [
        ("steps[2].map.step", "'b' is not in depends_on of 'm'"),
        ("steps[2].map.path", "an empty field name"),
        ("steps[2].map.max_items", "1..10000 (0: 1000)"),
    ]
