"""The workflow checker itself: each of W1-W4 shown failing on a history that breaks it,
and passing on one that does not (a checker that cannot fail proves nothing). Pure: no
database, no processes."""

from __future__ import annotations

import dataclasses

import pytest

from tests.faults.invariants import Findings
from tests.faults.workflows import Step, check_workflow_steps

WF = "00000000-0000-4000-8000-0000000000aa"


def _step(
    name: str, *, depends_on: tuple[str, ...] = (), finished: float = 10.0, started: float | None = 9.0, **kw: object
) -> Step:
    fields: dict[str, object] = {
        "workflow_id": WF,
        "job_id": f"job-{name}",
        "name": name,
        "depends_on": list(depends_on),
        "pending": 0,
        "optional": False,
        "expanded": False,
        "map_of": None,
        "item": None,
        "state": "succeeded",
        "finished_at": finished,
        "first_start": started,
        "successes": 1,
    }
    fields.update(kw)
    return Step(**fields)  # type: ignore[arg-type]


def _good() -> list[Step]:
    """root -> each (2 elements) -> join, all in order."""
    return [
        _step("root", finished=1.0, started=0.5),
        _step("each", depends_on=("root",), expanded=True, finished=3.0, started=None),
        _step("each[0]", map_of="each", item=0, finished=2.0, started=1.5),
        _step("each[1]", map_of="each", item=1, finished=2.5, started=1.6),
        _step("join", depends_on=("each",), finished=4.0, started=3.5),
    ]


def _problems(steps: list[Step], total: int = 3) -> set[str]:
    found = Findings()
    check_workflow_steps(WF, total, steps, found)
    return {problem.split(":")[0] for problem in found.problems}


def _with(name: str, **changes: object) -> list[Step]:
    return [dataclasses.replace(s, **changes) if s.name == name else s for s in _good()]  # type: ignore[arg-type]


def test_a_good_history_passes() -> None:
    assert _problems(_good()) == set()


@pytest.mark.parametrize(
    ("steps", "total", "invariant"),
    [
        ([s for s in _good() if s.name != "join"], 3, "W1"),  # a step lost
        ([s for s in _good() if s.name != "each[0]"], 3, "W1"),  # an element lost
        (_with("join", state="waiting", finished_at=None, first_start=None), 3, "W2"),  # stuck
        (_with("join", pending=1), 3, "W2"),  # succeeded with a parent not counted off
        (_with("join", first_start=2.9), 3, "W3"),  # started before its parent finished
        (_with("each[1]", first_start=0.9), 3, "W3"),  # an element before the map's parent finished
        (_with("root", state="failed"), 3, "W3"),  # ran although a required parent failed
        (_with("join", successes=2), 3, "W4"),  # a doubled join
    ],
)
def test_each_invariant_can_fail(steps: list[Step], total: int, invariant: str) -> None:
    assert invariant in _problems(steps, total)


def test_an_optional_failed_parent_may_be_run_after() -> None:
    assert _problems(_with("root", state="failed", optional=True)) == set()
