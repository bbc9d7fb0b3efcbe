"""The DAG view of `jobsvc workflow watch`: states from GetWorkflow, then only newer events."""

from __future__ import annotations

from jobsvc.cli.commands.workflow_watch import DagView
from jobsvc.v1 import job_pb2, workflow_service_pb2

WF = workflow_service_pb2


def step(name: str, state: int, last: int, *parents: str, map_of: str = "") -> WF.WorkflowStepStatus:
    return WF.WorkflowStepStatus(
        name=name, depends_on=parents, job=job_pb2.Job(state=state, last_sequence=last), map_of=map_of
    )


def event(name: str, seq: int, kind: str, **fields: object) -> WF.StreamWorkflowResponse:
    job_event = job_pb2.JobEvent(sequence=seq)
    getattr(job_event, kind).SetInParent()
    for key, value in fields.items():
        setattr(getattr(job_event, kind), key, value)
    return WF.StreamWorkflowResponse(step=name, event=job_event)


def test_events_older_than_the_picture_are_ignored_and_dependants_follow() -> None:
    view = DagView(
        WF.Workflow(
            id="w",
            steps=[
                step("a", job_pb2.JOB_STATE_RUNNING, 2),
                step("each", job_pb2.JOB_STATE_WAITING, 1, "a"),
                step("z", job_pb2.JOB_STATE_WAITING, 1, "each", "a"),
            ],
        )
    )
    assert view.apply(event("a", 1, "queued")) == []  # GetWorkflow showed it already
    assert view.apply(event("a", 3, "progress", percent=40.0)) == [("a", "running 40%")]
    assert view.apply(event("a", 4, "succeeded")) == [("a", "succeeded"), ("each", "queued")]
    # An element made after GetWorkflow: the mapped step shows the count of its elements.
    assert view.apply(event("each[0]", 2, "started")) == [("each[0]", "running"), ("each", "mapping 0/1")]
    assert view.apply(event("each[0]", 3, "succeeded")) == [("each[0]", "succeeded"), ("each", "mapping 1/1")]
    assert view.apply(event("each", 2, "succeeded")) == [("each", "succeeded"), ("z", "queued")]
    assert view.lines() == [
        "a       succeeded     ",
        "  each  succeeded       <- a",
        "    z   queued          <- each, a",
    ]


def test_a_workflow_taller_than_the_terminal_shows_counts_and_the_steps_under_way() -> None:
    steps = [step(f"s{i}", job_pb2.JOB_STATE_SUCCEEDED, 3) for i in range(50)]
    steps += [step("busy", job_pb2.JOB_STATE_RUNNING, 2), step("late", job_pb2.JOB_STATE_WAITING, 1, "busy")]
    view = DagView(WF.Workflow(id="w", steps=steps))
    assert view.lines(room=10) == ["52 steps: 1 running, 50 succeeded, 1 waiting", "busy  running       "]
    assert len(view.lines()) == 52
