"""`jobsvc workflow watch ID`: a workflow's DAG with each step's state, kept up to date
from StreamWorkflow until the workflow ends.

The picture starts from GetWorkflow (every step, its parents and its job's state and last
event sequence) and then follows the workflow's event stream from its start, applying a
step's event only when it is newer than what GetWorkflow showed (its per-job sequence),
so an old workflow is not replayed and a step never goes back to an earlier state. A
step's job is WAITING until its parents finish and gets no event then, so a waiting step
whose parents have all finished is shown as queued.

On a terminal the tree is redrawn in place (at most ten times a second; a workflow taller
than the terminal shows its count of steps per state and the steps under way); otherwise, for
logs and pipes, a line is printed per change of a step's state (`STEP<TAB>STATE`). Both
end with `workflow ID STATE (finished/total steps)`.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from jobsvc.sdk import Client
from jobsvc.v1 import job_pb2, workflow_service_pb2

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
# A job event's kind -> the state it leaves its step in.
EVENT_STATES = {
    "queued": "queued",
    "requeued": "queued",
    "retrying": "retrying",
    "started": "running",
    "progress": "running",
    "partial_output": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
}
REDRAW_EVERY = 0.1


@dataclass(slots=True)
class StepView:
    """What the watch knows of one step (or one element of a mapped step)."""

    name: str
    depends_on: list[str]
    optional: bool
    state: str
    seen: int  # the job's last event sequence applied
    depth: int = 0
    progress: float | None = None
    elements: list[str] = field(default_factory=list)  # a mapped step's element names, in order


def _job_state(job: job_pb2.Job) -> str:
    return job_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()


class DagView:
    """The workflow's steps and their states, from one GetWorkflow plus the events after it."""

    def __init__(self, workflow: workflow_service_pb2.Workflow) -> None:
        self.workflow_id = workflow.id
        self.steps: dict[str, StepView] = {}
        self.order: list[str] = []  # top-level steps in submit order
        self.children: dict[str, list[str]] = {}  # a step -> the steps that depend on it
        for status in workflow.steps:
            job = status.job
            step = StepView(status.name, list(status.depends_on), status.optional, _job_state(job), job.last_sequence)
            self._add(step, status.map_of)
        self._set_depths()

    def _add(self, step: StepView, map_of: str) -> None:
        self.steps[step.name] = step
        name, depends_on = step.name, step.depends_on
        for parent in depends_on:
            self.children.setdefault(parent, []).append(name)
        if map_of:
            self.steps[map_of].elements.append(name)
        else:
            self.order.append(name)

    def _set_depths(self) -> None:
        """Each step's longest path from a root, in topological order (Kahn's; the server
        refused cycles), without recursion: a chain may be 10,000 steps long."""
        pending = {name: len(self.steps[name].depends_on) for name in self.order}
        ready = [name for name, count in pending.items() if count == 0]
        while ready:
            name = ready.pop()
            for child in self.children.get(name, []):
                if child in pending:
                    self.steps[child].depth = max(self.steps[child].depth, self.steps[name].depth + 1)
                    pending[child] -= 1
                    if pending[child] == 0:
                        ready.append(child)

    def apply(self, event: workflow_service_pb2.StreamWorkflowResponse) -> list[tuple[str, str]]:
        """Apply one event; the steps whose shown state it changed (the step itself, the
        mapped step it is an element of, its dependants), each with its new state."""
        mapped = event.step.rsplit("[", 1)[0] if event.step.endswith("]") else ""
        affected = [event.step, *self.children.get(event.step, [])]
        if mapped in self.steps:
            affected += [mapped, *self.children.get(mapped, [])]
        before = {name: self.shown(name) for name in affected if name in self.steps}
        step = self.steps.get(event.step)
        if step is None:  # an element made after GetWorkflow: `each[3]` of step `each`
            step = StepView(event.step, [], False, "waiting", 0)
            self._add(step, mapped if mapped in self.steps else "")
        if event.event.sequence <= step.seen:
            return []
        step.seen = event.event.sequence
        kind = str(event.event.WhichOneof("kind"))
        step.state = EVENT_STATES.get(kind, step.state)
        if kind == "progress":
            step.progress = event.event.progress.percent
        elif step.state != "running":
            step.progress = None
        return [(name, now) for name in affected if (now := self.shown(name)) != before.get(name)]

    def shown(self, name: str) -> str:
        """A step's state as shown: a waiting step whose parents have all finished is queued
        (its job gets no event then); a mapped step that has elements shows their count."""
        step = self.steps[name]
        if step.elements and step.state not in TERMINAL:
            done = sum(self.steps[e].state in TERMINAL for e in step.elements)
            return f"mapping {done}/{len(step.elements)}"
        if step.state == "waiting" and all(self.steps[p].state in TERMINAL for p in step.depends_on if p in self.steps):
            return "queued"
        if step.state == "running" and step.progress is not None:
            return f"running {step.progress:.0f}%"
        return step.state

    def lines(self, room: int | None = None) -> list[str]:
        """The tree: a line per top-level step, indented by its depth in the DAG. With more
        steps than `room` lines (a terminal's height), a count of steps per state, then the
        steps that are neither waiting nor succeeded, as many as fit."""
        names = self.order
        header = []
        if room is not None and len(names) > room:
            counts = Counter(self.shown(name).split(" ")[0] for name in names)
            header = [f"{len(names)} steps: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))]
            busy = [name for name in names if self.shown(name).split(" ")[0] not in ("waiting", "succeeded")]
            names = busy[: max(0, room - 2)]
            if len(busy) > len(names):
                header.append(f"({len(busy) - len(names)} more not shown)")
        width = max((len(n) + 2 * self.steps[n].depth for n in names), default=0)
        out = header
        for name in names:
            step = self.steps[name]
            label = "  " * step.depth + name
            parents = f"  <- {', '.join(step.depends_on)}" if step.depends_on else ""
            optional = " (optional)" if step.optional else ""
            out.append(f"{label:<{width}}  {self.shown(name):<14}{parents}{optional}")
        return out


async def watch_workflow(client: Client, workflow_id: str, out: TextIO, *, live: bool) -> int:
    """Follow a workflow until it ends; 0 when it SUCCEEDED, 1 otherwise."""
    view = DagView(await client.get_workflow(workflow_id))
    drawn = 0
    last_draw = 0.0

    def draw() -> None:
        nonlocal drawn, last_draw
        lines = view.lines(shutil.get_terminal_size().lines - 2)  # room for the cursor and the last line
        # Back to the first line of the previous picture, clear it all, draw again.
        out.write((f"\x1b[{drawn}F" if drawn else "") + "\x1b[J" + "".join(line + "\n" for line in lines))
        out.flush()
        drawn, last_draw = len(lines), time.monotonic()

    if live:
        draw()
    else:
        for name in view.order:
            out.write(f"{name}\t{view.shown(name)}\n")
        out.flush()
    async for event in client.stream_workflow(workflow_id):
        changed = view.apply(event)
        if not changed:
            continue
        if not live:
            out.write("".join(f"{name}\t{state}\n" for name, state in changed))
            out.flush()
        elif time.monotonic() - last_draw >= REDRAW_EVERY:
            draw()
    workflow = await client.get_workflow(workflow_id)
    if live:
        view = DagView(workflow)
        draw()
    state = workflow_service_pb2.WorkflowState.Name(workflow.state).removeprefix("WORKFLOW_STATE_")
    out.write(f"workflow {workflow.id} {state} ({workflow.steps_finished}/{workflow.steps_total} steps)\n")
    out.flush()
    return 0 if workflow.state == workflow_service_pb2.WORKFLOW_STATE_SUCCEEDED else 1
