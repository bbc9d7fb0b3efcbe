"""The ledger checker extended to workflows (issue 14): after faults, over the database and
the handlers' own record of executions (fault_executions), never jobsvc's view alone.

- W1 no step lost: every workflow a client got an id for has all its steps, each
  finished; a mapped step that expanded has one element per list item, numbered 0..n-1.
- W2 nothing stuck: nothing waiting, queued or running once drained (bounded), and every
  step that succeeded has no parent left to count off (pending = 0).
- W3 nothing run that should not have: a step started only after each of its parents
  finished, and only when each required one succeeded; an element only after its mapped
  step's parents finished.
- W4 no join doubled: each step succeeded at most once (one `succeeded` event) and its
  executions obey L4 (a re-execution only inside a fault window), so a join or fan-in
  whose parents finished together on different replicas ran once.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass

import asyncpg

from tests.faults.invariants import CLOCK_EPSILON, Findings, bounded_re_execution, terminal_is_final
from tests.faults.ledger import load_view
from tests.faults.records import TERMINAL, DbView, Fault

LOAD_STEPS = """
SELECT s.workflow_id::text AS workflow_id, s.job_id::text AS job_id, s.name, s.depends_on, s.pending,
       s.optional, s.expanded, s.map_of, s.item, j.state,
       extract(epoch FROM j.finished_at)::float8 AS finished_at,
       (SELECT min(extract(epoch FROM e.time))::float8 FROM jobsvc_job_events e
        WHERE e.job_id = s.job_id AND e.kind = 'started') AS first_start,
       (SELECT count(*) FROM jobsvc_job_events e WHERE e.job_id = s.job_id AND e.kind = 'succeeded') AS successes
FROM jobsvc_workflow_steps s JOIN jobsvc_jobs j ON j.id = s.job_id
WHERE s.workflow_id = ANY($1::uuid[])
"""
LOAD_WORKFLOWS = "SELECT id::text, steps_total FROM jobsvc_workflows WHERE id = ANY($1::uuid[])"
COUNT_UNFINISHED_STEPS = """
SELECT count(*) FROM jobsvc_workflow_steps s JOIN jobsvc_jobs j ON j.id = s.job_id
WHERE s.workflow_id = ANY($1::uuid[]) AND j.state IN ('waiting', 'queued', 'running')
"""


@dataclass(frozen=True)
class Step:
    workflow_id: str
    job_id: str
    name: str
    depends_on: list[str]
    pending: int
    optional: bool
    expanded: bool
    map_of: str | None
    item: int | None
    state: str
    finished_at: float | None
    first_start: float | None
    successes: int


async def drain_workflows(conn: asyncpg.Connection, workflow_ids: list[str], timeout: float) -> int:
    """Wait (at most `timeout` s) until no step of these workflows is unfinished; how many still are."""
    deadline = time.monotonic() + timeout
    while True:
        left = int(await conn.fetchval(COUNT_UNFINISHED_STEPS, workflow_ids))
        if left == 0 or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.2)


async def check_workflows(
    dsn: str, workflow_ids: list[str], faults: list[Fault], *, drain_timeout: float = 30.0
) -> dict[str, int]:
    """Drain, then assert W1-W4 over these workflows; print and return what was counted."""
    conn = await asyncpg.connect(dsn)
    try:
        left = await drain_workflows(conn, workflow_ids, drain_timeout)
        totals = {r["id"]: r["steps_total"] for r in await conn.fetch(LOAD_WORKFLOWS, workflow_ids)}
        steps = [Step(**dict(r)) for r in await conn.fetch(LOAD_STEPS, workflow_ids)]
        view = await load_view(conn)
    finally:
        await conn.close()
    found = Findings()
    if left:
        found.problems.append(f"W2: {left} step(s) still waiting, queued or running after a {drain_timeout:.0f}s drain")
    by_workflow: dict[str, list[Step]] = defaultdict(list)
    for step in steps:
        by_workflow[step.workflow_id].append(step)
    for workflow_id in workflow_ids:
        if workflow_id not in totals:
            found.problems.append(f"W1: workflow {workflow_id} does not exist")
            continue
        check_workflow_steps(workflow_id, totals[workflow_id], by_workflow[workflow_id], found)
    # W4: the executions of the steps' jobs, as L4 and L6 judge any job's.
    step_ids = {step.job_id for step in steps}
    steps_view = DbView(
        {i: j for i, j in view.jobs.items() if i in step_ids},
        {i: e for i, e in view.events.items() if i in step_ids},
        {i: e for i, e in view.executions.items() if i in step_ids},
    )
    bounded_re_execution(faults, steps_view, found)
    terminal_is_final([], steps_view, found)
    found.stats["workflows"] = len(workflow_ids)
    found.stats["steps"] = len(steps)
    print(f"\n[workflows] {dict(found.stats)}", flush=True)
    assert not found.problems, "\n".join(found.problems[:40])
    return dict(found.stats)


def check_workflow_steps(workflow_id: str, total: int, steps: list[Step], found: Findings) -> None:
    """W1-W4 over the steps of one drained workflow (pure: the checker's own tests feed it)."""
    named = {step.name: step for step in steps if step.map_of is None}
    if len(named) != total:
        found.problems.append(f"W1: workflow {workflow_id} has {len(named)} of its {total} steps")
    elements: dict[str, list[Step]] = defaultdict(list)
    for step in steps:
        if step.map_of is not None:
            elements[step.map_of].append(step)
    for step in steps:
        where = f"workflow {workflow_id} step {step.name}"
        _finished_once(where, step, elements, found)
        found.stats["started_steps"] += step.first_start is not None
        # Elements wait for their mapped step's parents (they are made when the last finishes).
        parents = named[step.map_of].depends_on if step.map_of is not None and step.map_of in named else []
        for name in [*parents, *step.depends_on]:
            _ran_after(where, step, name, named.get(name), found)


def _finished_once(where: str, step: Step, elements: dict[str, list[Step]], found: Findings) -> None:
    """W1, W2, W4 of one step."""
    if step.state not in TERMINAL:
        found.problems.append(f"W2: {where} is still {step.state}")
    if step.state == "succeeded" and step.pending != 0:
        found.problems.append(f"W2: {where} succeeded with {step.pending} parent(s) not counted off")
    if step.successes > 1:
        found.problems.append(f"W4: {where} succeeded {step.successes} times")
    if step.expanded:
        items = sorted(e.item for e in elements[step.name] if e.item is not None)
        if items != list(range(len(items))):
            found.problems.append(f"W1: {where} has elements {items}")


def _ran_after(where: str, step: Step, name: str, parent: Step | None, found: Findings) -> None:
    """W1 and W3 of one edge."""
    if parent is None:
        found.problems.append(f"W1: {where} depends on {name}, which is missing")
    elif step.first_start is None:
        return
    elif parent.finished_at is None or parent.finished_at > step.first_start + CLOCK_EPSILON:
        found.problems.append(f"W3: {where} started before its parent {name} finished")
    elif parent.state != "succeeded" and not parent.optional:
        found.problems.append(f"W3: {where} ran although its required parent {name} is {parent.state}")
