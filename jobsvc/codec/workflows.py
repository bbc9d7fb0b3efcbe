"""Workflows between protobuf messages and domain objects (see jobsvc.codec)."""

from __future__ import annotations

from jobsvc.codec.decode import MAX_LABEL_BYTES, MAX_LABELS, job_spec_from_proto
from jobsvc.codec.encode import job_to_proto, timestamp_to_proto
from jobsvc.domain.errors import FieldViolation, InvalidArgument
from jobsvc.domain.jobs import JobView
from jobsvc.domain.limits import DEFAULT_MAP_ITEMS
from jobsvc.domain.workflows import (
    StepInput,
    StepMap,
    StepStatus,
    Workflow,
    WorkflowSpec,
    WorkflowState,
    WorkflowStep,
    parse_path,
)
from jobsvc.v1 import workflow_service_pb2

_STATE_TO_PROTO = {
    WorkflowState.RUNNING: workflow_service_pb2.WORKFLOW_STATE_RUNNING,
    WorkflowState.SUCCEEDED: workflow_service_pb2.WORKFLOW_STATE_SUCCEEDED,
    WorkflowState.FAILED: workflow_service_pb2.WORKFLOW_STATE_FAILED,
    WorkflowState.CANCELLED: workflow_service_pb2.WORKFLOW_STATE_CANCELLED,
}
MAX_WORKFLOW_NAME_BYTES = 256


def workflow_spec_from_proto(message: workflow_service_pb2.SubmitWorkflowRequest, path: str = "") -> WorkflowSpec:
    """Convert a SubmitWorkflowRequest, reporting the bad fields of every step at once
    (the graph itself is checked by jobsvc.domain.workflows.check_workflow)."""
    prefix = f"{path}." if path else ""
    steps: list[WorkflowStep] = []
    violations: list[FieldViolation] = []
    if len(message.name.encode()) > MAX_WORKFLOW_NAME_BYTES:
        violations.append(FieldViolation(f"{prefix}name", f"at most {MAX_WORKFLOW_NAME_BYTES} bytes"))
    if len(message.labels) > MAX_LABELS or any(
        not key or len(key.encode()) > MAX_LABEL_BYTES or len(value.encode()) > MAX_LABEL_BYTES
        for key, value in message.labels.items()
    ):
        violations.append(
            FieldViolation(
                f"{prefix}labels", f"at most {MAX_LABELS}; keys non-empty, keys and values <= {MAX_LABEL_BYTES} bytes"
            )
        )
    for index, step in enumerate(message.steps):
        where = f"{prefix}steps[{index}]"
        try:
            job = job_spec_from_proto(step.job, f"{where}.job")
        except InvalidArgument as exc:
            violations.extend(exc.violations)
            continue
        steps.append(
            WorkflowStep(
                name=step.name,
                job=job,
                depends_on=tuple(step.depends_on),
                inputs=tuple(StepInput(i.step, parse_path(i.path), i.key) for i in step.inputs),
                optional=step.optional,
                map=_map(step),
            )
        )
    if violations:
        first = violations[0]
        raise InvalidArgument(f"invalid workflow: {first.field}: {first.description}", violations)
    return WorkflowSpec(name=message.name, steps=tuple(steps), labels=dict(message.labels))


def _map(step: workflow_service_pb2.WorkflowStep) -> StepMap | None:
    if not step.HasField("map"):
        return None
    given = step.map
    return StepMap(given.step, parse_path(given.path), given.key, given.max_items or DEFAULT_MAP_ITEMS)


def step_to_proto(step: StepStatus, view: JobView, error_budget: int | None) -> workflow_service_pb2.WorkflowStepStatus:
    """A step with its job in the given view."""
    return workflow_service_pb2.WorkflowStepStatus(
        name=step.name,
        depends_on=step.depends_on,
        optional=step.optional,
        job=job_to_proto(step.job, view, error_budget),
        map_of=step.map_of or "",
        item=step.item or 0,
    )


def workflow_to_proto(
    workflow: Workflow, view: JobView = JobView.BASIC, error_budget: int | None = None
) -> workflow_service_pb2.Workflow:
    """A workflow and its steps (their jobs in the given view)."""
    message = workflow_service_pb2.Workflow(
        id=workflow.id,
        name=workflow.name,
        state=_STATE_TO_PROTO[workflow.state],
        labels=workflow.labels,
        create_time=timestamp_to_proto(workflow.created_at),
        steps=[step_to_proto(step, view, error_budget) for step in workflow.steps],
        steps_total=workflow.steps_total,
        steps_finished=workflow.steps_finished,
        cancel_reason=workflow.cancel_reason or "",
    )
    if workflow.finished_at is not None:
        message.finish_time.CopyFrom(timestamp_to_proto(workflow.finished_at))
    return message
