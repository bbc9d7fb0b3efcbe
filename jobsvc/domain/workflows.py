"""Workflows: named steps, each a job, chained into a directed acyclic graph.

A step starts when every step it depends on has finished; its input is its literal
input with values taken from its parents' results merged over it. Everything here is
pure: the checks a submitted workflow must pass before anything is stored, and the
rules that give a workflow its state from its steps' states.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from jobsvc.domain.errors import FieldViolation, InvalidArgument
from jobsvc.domain.jobs import Job, JobEvent, JobSpec, JobState
from jobsvc.domain.limits import DEFAULT_MAP_ITEMS, MAX_MAP_ITEMS, MAX_WORKFLOW_STEPS

STEP_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
# The error a step fails with when a field path it takes is not in its parent's result.
INPUT_MISSING = "jobsvc.WorkflowInputMissing"


@dataclass(frozen=True, slots=True)
class StepInput:
    """One value a step takes from a parent's result, resolved when the step becomes ready."""

    step: str
    # Field names (or list indexes) into the parent's JSON result; empty: the whole result.
    path: tuple[str, ...] = ()
    # Top-level key of the step's input that receives the value; empty: merge its fields.
    key: str = ""


@dataclass(frozen=True, slots=True)
class StepMap:
    """Fan-out: one job per element of a list in a parent's result (see WorkflowStep.map)."""

    step: str
    path: tuple[str, ...] = ()
    # Top-level key of each element's input that receives the element; empty: merge it.
    key: str = ""
    max_items: int = DEFAULT_MAP_ITEMS


@dataclass(frozen=True, slots=True)
class WorkflowStep:
    """A named job of a workflow and what it needs from the others."""

    name: str
    job: JobSpec
    depends_on: tuple[str, ...] = ()
    inputs: tuple[StepInput, ...] = ()
    # Failed or cancelled: its dependants run anyway, with its error in place of its result.
    optional: bool = False
    # Run once per element of a list in a parent's result; the results, in order, are its result.
    map: StepMap | None = None


@dataclass(frozen=True, slots=True)
class WorkflowSpec:
    """A caller's workflow, validated (`check_workflow`) before it reaches the store."""

    name: str
    steps: tuple[WorkflowStep, ...]
    labels: dict[str, str] = field(default_factory=dict)


class WorkflowState(enum.StrEnum):
    """Where a workflow is, derived from its steps (`workflow_state`)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class StepStatus:
    """A stored step: its definition and its job."""

    name: str
    depends_on: tuple[str, ...]
    optional: bool
    job: Job
    # On the jobs a mapped step made: that step's name and the element's index.
    map_of: str | None = None
    item: int | None = None


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow as stored, with its steps (none in a listing)."""

    id: str
    name: str
    state: WorkflowState
    labels: dict[str, str]
    created_at: datetime
    finished_at: datetime | None
    steps: tuple[StepStatus, ...]
    steps_total: int
    steps_finished: int
    cancel_reason: str | None = None

    def sinks(self) -> list[StepStatus]:
        """The steps no other step depends on, in submit order: the workflow's outputs."""
        parents = {name for step in self.steps for name in step.depends_on}
        return [step for step in self.steps if step.name not in parents and step.map_of is None]


@dataclass(frozen=True, slots=True)
class WorkflowPage:
    """One page of a workflow listing, newest first."""

    workflows: list[Workflow]
    next_cursor: tuple[datetime, str] | None


@dataclass(frozen=True, slots=True)
class WorkflowEvent:
    """One event of a step, numbered in its workflow's sequence (1, 2, 3, ... without gaps)."""

    seq: int
    step: str
    event: JobEvent


@dataclass(frozen=True, slots=True)
class StepRedrive:
    """What a redrive of a step found: the workflow (found, cancelled), the step (job_id
    None: no such step; its state and optional flag before the redrive) and whether it was
    redriven."""

    found: bool
    cancelled: bool = False
    job_id: str | None = None
    state: JobState | None = None
    optional: bool = False
    redriven: bool = False


@dataclass(frozen=True, slots=True)
class StreamHead:
    """Where a workflow's sequence stands: its last number, and the jobs of its steps not
    finished yet, read in the snapshot that numbered the events (none: every event of the
    workflow is numbered, up to last_seq)."""

    last_seq: int
    unfinished: list[str]


def parse_path(text: str) -> tuple[str, ...]:
    """`image.url` gives ("image", "url"); list elements are numbered (`items.0`)."""
    return tuple(text.split(".")) if text else ()


def check_workflow(spec: WorkflowSpec, max_steps: int = MAX_WORKFLOW_STEPS) -> None:
    """InvalidArgument naming every bad step field: too many or no steps, a bad or
    duplicate name, a dependency on itself or on an unknown step, an input from a step
    it does not depend on, an input merged over a literal that is not an object, a cycle."""
    if not spec.steps:
        raise InvalidArgument("a workflow needs at least one step", [FieldViolation("steps", "at least one step")])
    if len(spec.steps) > max_steps:
        raise InvalidArgument(
            f"a workflow holds at most {max_steps} steps, got {len(spec.steps)}",
            [FieldViolation("steps", f"at most {max_steps} steps")],
            reason="WORKFLOW_TOO_LARGE",
        )
    violations = _name_violations(spec.steps)
    names = {step.name for step in spec.steps}
    for index, step in enumerate(spec.steps):
        violations.extend(_step_violations(index, step, names))
    if not violations:
        violations.extend(_cycle_violations(spec.steps))
    if violations:
        first = violations[0]
        raise InvalidArgument(
            f"invalid workflow: {first.field}: {first.description}", violations, reason="WORKFLOW_INVALID"
        )


def _name_violations(steps: Sequence[WorkflowStep]) -> list[FieldViolation]:
    found: list[FieldViolation] = []
    first_index: dict[str, int] = {}
    for index, step in enumerate(steps):
        where = f"steps[{index}].name"
        if not STEP_NAME.fullmatch(step.name):
            found.append(FieldViolation(where, "1..128 letters, digits, '_', '-' or '.'"))
        elif step.name in first_index:
            found.append(FieldViolation(where, f"step {step.name!r} is also steps[{first_index[step.name]}]"))
        else:
            first_index[step.name] = index
    return found


def _step_violations(index: int, step: WorkflowStep, names: set[str]) -> list[FieldViolation]:
    where = f"steps[{index}]"
    found: list[FieldViolation] = []
    seen: set[str] = set()
    for position, parent in enumerate(step.depends_on):
        at = f"{where}.depends_on[{position}]"
        if parent == step.name:
            found.append(FieldViolation(at, f"step {step.name!r} cannot depend on itself"))
        elif parent not in names:
            found.append(FieldViolation(at, f"no step named {parent!r}"))
        elif parent in seen:
            found.append(FieldViolation(at, f"{parent!r} is listed twice"))
        seen.add(parent)
    for position, taken in enumerate(step.inputs):
        if taken.step not in step.depends_on:
            found.append(
                FieldViolation(
                    f"{where}.inputs[{position}].step", f"{taken.step!r} is not in depends_on of {step.name!r}"
                )
            )
        if any(not part for part in taken.path):
            found.append(FieldViolation(f"{where}.inputs[{position}].path", "an empty field name"))
    found.extend(_map_violations(where, step))
    literal = step.job.input
    if (step.inputs or step.map) and (literal.is_proto or not isinstance(literal.json, dict | None)):
        found.append(
            FieldViolation(f"{where}.job.input", "a step with inputs or a map takes a JSON object or no literal input")
        )
    return found


def _map_violations(where: str, step: WorkflowStep) -> list[FieldViolation]:
    if step.map is None:
        return []
    found: list[FieldViolation] = []
    if step.map.step not in step.depends_on:
        found.append(FieldViolation(f"{where}.map.step", f"{step.map.step!r} is not in depends_on of {step.name!r}"))
    if any(not part for part in step.map.path):
        found.append(FieldViolation(f"{where}.map.path", "an empty field name"))
    if not 1 <= step.map.max_items <= MAX_MAP_ITEMS:
        found.append(FieldViolation(f"{where}.map.max_items", f"1..{MAX_MAP_ITEMS} (0: {DEFAULT_MAP_ITEMS})"))
    return found


def _cycle_violations(steps: Sequence[WorkflowStep]) -> list[FieldViolation]:
    """Kahn's algorithm: the steps never freed lie on or behind a cycle; name one cycle."""
    index = {step.name: i for i, step in enumerate(steps)}
    waiting = [len(step.depends_on) for step in steps]
    children: list[list[int]] = [[] for _ in steps]
    for i, step in enumerate(steps):
        for parent in step.depends_on:
            children[index[parent]].append(i)
    ready = [i for i, n in enumerate(waiting) if n == 0]
    freed = 0
    while ready:
        i = ready.pop()
        freed += 1
        for child in children[i]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    if freed == len(steps):
        return []
    # Walk back through parents still waiting until a step repeats: that loop is a cycle.
    stuck = {i for i, n in enumerate(waiting) if n > 0}
    walk = [min(stuck)]
    while True:
        behind = next(index[p] for p in steps[walk[-1]].depends_on if index[p] in stuck)
        if behind in walk:
            cycle = walk[walk.index(behind) :]
            break
        walk.append(behind)
    described = " <- ".join(steps[i].name for i in [*cycle, cycle[0]])
    first = min(cycle)
    return [FieldViolation(f"steps[{first}].depends_on", f"a cycle: {described}")]


def workflow_state(states: Sequence[tuple[JobState, bool]], cancelled: bool) -> WorkflowState:
    """The state of a workflow from its steps' (state, optional): RUNNING while a step
    has not finished; then FAILED when a required step failed, CANCELLED when one was
    cancelled (or the workflow was, and not every required step succeeded), SUCCEEDED."""
    if any(not state.terminal for state, _ in states):
        return WorkflowState.RUNNING
    required = [state for state, optional in states if not optional]
    if JobState.FAILED in required:
        return WorkflowState.FAILED
    if JobState.CANCELLED in required or (cancelled and any(s is not JobState.SUCCEEDED for s in required)):
        return WorkflowState.CANCELLED
    return WorkflowState.SUCCEEDED
