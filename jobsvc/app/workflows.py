"""The workflow use cases, independent of gRPC: check and submit a workflow, wait for it,
read, list and cancel it. Steps are jobs: JobsApp resolves and settles each one, the
dispatch engine runs them unchanged, and the store decides when a waiting step is ready
(see store/migrations/0008_workflows.sql).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from jobsvc.app.jobs import JobsApp
from jobsvc.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, OutOfRange
from jobsvc.domain.jobs import JobState, JobView, NewJob
from jobsvc.domain.limits import MAX_WORKFLOW_STEPS
from jobsvc.domain.workflows import (
    StreamHead,
    Workflow,
    WorkflowEvent,
    WorkflowPage,
    WorkflowSpec,
    WorkflowState,
    check_workflow,
)
from jobsvc.store.port import JobStore


def _workflow_not_found(workflow_id: str) -> NotFound:
    return NotFound(
        f"workflow {workflow_id} does not exist",
        reason="WORKFLOW_NOT_FOUND",
        resource_type="workflow",
        resource_name=workflow_id,
    )


# A stream re-reads at least this often (seconds) when no notification woke it: a step
# made by a fan-out after the last read is not watched yet.
STREAM_POLL_INTERVAL = 1.0


class WorkflowsApp:
    """The operations behind WorkflowService."""

    def __init__(self, jobs: JobsApp, store: JobStore, *, max_steps: int = MAX_WORKFLOW_STEPS) -> None:
        self._jobs = jobs
        self._store = store
        self.max_steps = max_steps

    async def submit(self, spec: WorkflowSpec) -> Workflow:
        """Check the whole workflow, then store it in one transaction: INVALID_ARGUMENT
        naming the step and field before anything is stored."""
        check_workflow(spec, self.max_steps)
        new_jobs = [await self._prepare(index, spec) for index in range(len(spec.steps))]
        workflow_id = await self._store.workflow_insert(spec, new_jobs)
        self._jobs.jobs_due(None)
        if self._jobs.metrics.enabled:
            for new in new_jobs:
                self._jobs.metrics.job_submitted(new.spec.handler, new.version)
        return await self.get(workflow_id)

    async def _prepare(self, index: int, spec: WorkflowSpec) -> NewJob:
        step = spec.steps[index]
        path = f"steps[{index}].job"
        if step.job.idempotency_key:
            raise InvalidArgument(
                f"step {step.name!r}: a workflow step takes no idempotency key",
                [FieldViolation(f"{path}.idempotency_key", "not allowed on a workflow step")],
                reason="WORKFLOW_INVALID",
            )
        try:
            return await self._jobs.prepare_step(step.job, path, takes_inputs=bool(step.inputs))
        except NotFound as exc:
            # An unknown handler or version is a bad field of this request, named by its step.
            field = exc.metadata.get("field", f"{path}.handler")
            raise InvalidArgument(
                f"step {step.name!r}: {exc.message}", [FieldViolation(field, exc.message)], reason=exc.reason
            ) from None
        except InvalidArgument as exc:
            raise InvalidArgument(f"step {step.name!r}: {exc.message}", exc.violations, reason=exc.reason) from None

    async def get(self, workflow_id: str, view: JobView = JobView.BASIC) -> Workflow:
        """A workflow and every step; NotFound when there is none."""
        found = await self._store.workflow_get(workflow_id, payloads=view is JobView.FULL)
        if found is None:
            raise _workflow_not_found(workflow_id)
        return found

    async def list(self, page_size: int, cursor: tuple[datetime, str] | None) -> WorkflowPage:
        """One page of workflows, newest first, without their steps."""
        return await self._store.workflow_list(page_size, cursor)

    async def cancel(self, workflow_id: str, reason: str) -> Workflow:
        """Cancel what has not started, ask running steps to stop; NotFound when there is none."""
        if not await self._store.workflow_cancel(workflow_id, reason):
            raise _workflow_not_found(workflow_id)
        return await self.get(workflow_id)

    async def redrive_step(self, workflow_id: str, step: str) -> Workflow:
        """Run a FAILED step again and let the workflow continue from there (see
        jobsvc_workflow_step_redrive, migration 0010): NotFound for no such workflow or step,
        FailedPrecondition when the step is not FAILED, is optional, or the workflow was
        cancelled."""
        done = await self._store.workflow_step_redrive(workflow_id, step)
        if not done.found:
            raise _workflow_not_found(workflow_id)
        if done.job_id is None:
            raise NotFound(
                f"workflow {workflow_id} has no step {step!r}",
                reason="WORKFLOW_STEP_NOT_FOUND",
                resource_type="workflow step",
                resource_name=f"{workflow_id}/{step}",
            )
        if not done.redriven:
            state = done.state.value if done.state else "unknown"
            if done.optional:
                why, reason = f"step {step!r} is optional: its dependants ran with its error", "STEP_OPTIONAL"
            elif done.cancelled or done.state is JobState.FAILED:
                # A FAILED step not redriven: its workflow was cancelled (maybe just now).
                why, reason = f"workflow {workflow_id} was cancelled", "WORKFLOW_CANCELLED"
            else:
                why, reason = f"step {step!r} is {state}; only a FAILED step can be redriven", "STEP_NOT_FAILED"
            raise FailedPrecondition(
                why, reason=reason, metadata={"workflow_id": workflow_id, "step": step, "state": state}
            )
        self._jobs.jobs_due(None)
        return await self.get(workflow_id)

    async def wait_finished(self, workflow_id: str) -> Workflow:
        """Wait until every step has finished (the caller's deadline bounds the wait):
        each round waits on one unfinished step, the sinks first, then reads again."""
        while True:
            workflow = await self.get(workflow_id)
            if workflow.state is not WorkflowState.RUNNING:
                return workflow
            sinks = {step.name for step in workflow.sinks()}
            unfinished = [step for step in workflow.steps if not step.job.state.terminal]
            unfinished.sort(key=lambda step: step.name not in sinks)
            await self._jobs.wait_finished(unfinished[0].job.id)

    async def events(self, workflow_id: str, after_seq: int) -> AsyncIterator[WorkflowEvent]:
        """Every step's events after `after_seq` of the workflow's sequence, in order, ending
        after the last event of its last step to finish; nothing, ending at once, when it
        has finished and `after_seq` is its last sequence. OutOfRange beyond its last one.

        Each round numbers the events written since the last (workflow_events_stamp), sends
        them, and, unless that round's snapshot saw every step finished, waits for any
        unfinished step to change (or the poll interval).
        """
        changed = asyncio.Event()
        with contextlib.ExitStack() as watching:
            watched: set[str] = set()
            head = await self._stamp(workflow_id)
            if after_seq > head.last_seq:
                raise OutOfRange(
                    f"after_sequence {after_seq} is beyond the last event of workflow {workflow_id} ({head.last_seq})",
                    reason="SEQUENCE_NOT_REACHED",
                    metadata={
                        "workflow_id": workflow_id,
                        "after_sequence": str(after_seq),
                        "last_sequence": str(head.last_seq),
                    },
                )
            while True:
                for job_id in head.unfinished:
                    if job_id not in watched:
                        watched.add(job_id)
                        watching.enter_context(self._jobs.watch(job_id, changed))
                while after_seq < head.last_seq:
                    page = await self._store.workflow_event_list(workflow_id, after_seq, self._jobs.config.event_page)
                    if not page:
                        break  # its steps' jobs were deleted by retention meanwhile
                    for event in page:
                        yield event
                    after_seq = page[-1].seq
                if not head.unfinished:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), STREAM_POLL_INTERVAL)
                # Cleared before the read: a change committed during it sets it again.
                changed.clear()
                head = await self._stamp(workflow_id)

    async def _stamp(self, workflow_id: str) -> StreamHead:
        head = await self._store.workflow_events_stamp(workflow_id)
        if head is None:
            raise _workflow_not_found(workflow_id)
        return head
