"""The WorkflowService servicer: translate with jobsvc.codec, call WorkflowsApp, and let
jobsvc.api.status map every error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from jobsvc import codec
from jobsvc.api.services import MAX_SEQUENCE
from jobsvc.api.status import server_streaming, unary
from jobsvc.app.workflows import WorkflowsApp
from jobsvc.domain.errors import FieldViolation, InvalidArgument
from jobsvc.domain.jobs import JobView
from jobsvc.domain.workflows import Workflow
from jobsvc.v1 import job_service_pb2, workflow_service_pb2, workflow_service_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]
WORKFLOW_ID_METADATA = "jobsvc-workflow-id"
MAX_PAGE_SIZE = 1000


def _view(value: int) -> JobView:
    """GetWorkflow's view: BASIC unless FULL is asked for (a workflow may have thousands of steps)."""
    if value == job_service_pb2.JOB_VIEW_UNSPECIFIED:
        return JobView.BASIC
    return codec.view_from_proto(value, "view")


class WorkflowService(workflow_service_pb2_grpc.WorkflowServiceServicer):
    """Submit, wait for, read, list and cancel workflows."""

    def __init__(self, app: WorkflowsApp, error_budget: int) -> None:
        self._app = app
        self._error_budget = error_budget

    def _encode(self, workflow: Workflow, view: JobView = JobView.BASIC) -> workflow_service_pb2.Workflow:
        return codec.workflow_to_proto(workflow, view, self._error_budget)

    @unary
    async def SubmitWorkflow(
        self,
        request: workflow_service_pb2.SubmitWorkflowRequest,
        context: Context,
    ) -> workflow_service_pb2.SubmitWorkflowResponse:
        workflow = await self._app.submit(codec.workflow_spec_from_proto(request))
        return workflow_service_pb2.SubmitWorkflowResponse(workflow=self._encode(workflow))

    @unary
    async def CallWorkflow(
        self,
        request: workflow_service_pb2.CallWorkflowRequest,
        context: Context,
    ) -> workflow_service_pb2.CallWorkflowResponse:
        submitted = await self._app.submit(codec.workflow_spec_from_proto(request.workflow, "workflow"))
        # The id goes out before the wait: a caller whose deadline passes can still get it later.
        await context.send_initial_metadata(((WORKFLOW_ID_METADATA, submitted.id),))
        await self._app.wait_finished(submitted.id)
        workflow = await self._app.get(submitted.id, JobView.FULL)
        return workflow_service_pb2.CallWorkflowResponse(
            workflow=self._encode(workflow),
            outputs=[codec.step_to_proto(step, JobView.FULL, self._error_budget) for step in workflow.sinks()],
        )

    @unary
    async def GetWorkflow(
        self,
        request: workflow_service_pb2.GetWorkflowRequest,
        context: Context,
    ) -> workflow_service_pb2.GetWorkflowResponse:
        workflow_id = codec.job_id_from_request(request.id, "id")
        view = _view(request.view)
        workflow = await self._app.get(workflow_id, view)
        return workflow_service_pb2.GetWorkflowResponse(workflow=self._encode(workflow, view))

    @unary
    async def ListWorkflows(
        self,
        request: workflow_service_pb2.ListWorkflowsRequest,
        context: Context,
    ) -> workflow_service_pb2.ListWorkflowsResponse:
        if not 0 <= request.page_size <= MAX_PAGE_SIZE:
            raise InvalidArgument(
                f"page_size must be 0..{MAX_PAGE_SIZE}", [FieldViolation("page_size", f"0..{MAX_PAGE_SIZE}")]
            )
        cursor = codec.decode_page_token(request.page_token, "page_token")
        page = await self._app.list(request.page_size or 100, cursor)
        return workflow_service_pb2.ListWorkflowsResponse(
            workflows=[self._encode(w) for w in page.workflows],
            next_page_token=codec.encode_page_token(page.next_cursor) if page.next_cursor else "",
        )

    @unary
    async def CancelWorkflow(
        self,
        request: workflow_service_pb2.CancelWorkflowRequest,
        context: Context,
    ) -> workflow_service_pb2.CancelWorkflowResponse:
        workflow_id = codec.job_id_from_request(request.id, "id")
        workflow = await self._app.cancel(workflow_id, request.reason or "workflow cancelled by request")
        return workflow_service_pb2.CancelWorkflowResponse(workflow=self._encode(workflow))

    @unary
    async def RedriveWorkflowStep(
        self,
        request: workflow_service_pb2.RedriveWorkflowStepRequest,
        context: Context,
    ) -> workflow_service_pb2.RedriveWorkflowStepResponse:
        workflow_id = codec.job_id_from_request(request.id, "id")
        if not request.step:
            raise InvalidArgument("step is required", [FieldViolation("step", "the name of a FAILED step")])
        workflow = await self._app.redrive_step(workflow_id, request.step)
        return workflow_service_pb2.RedriveWorkflowStepResponse(workflow=self._encode(workflow))

    @server_streaming
    async def StreamWorkflow(
        self,
        request: workflow_service_pb2.StreamWorkflowRequest,
        context: Context,
    ) -> AsyncIterator[workflow_service_pb2.StreamWorkflowResponse]:
        workflow_id = codec.job_id_from_request(request.id, "id")
        if not 0 <= request.after_sequence <= MAX_SEQUENCE:
            raise InvalidArgument(
                f"after_sequence must be 0..{MAX_SEQUENCE}",
                [FieldViolation("after_sequence", f"must be 0..{MAX_SEQUENCE} (sequences are 32-bit in storage)")],
            )
        async for event in self._app.events(workflow_id, request.after_sequence):
            yield workflow_service_pb2.StreamWorkflowResponse(
                sequence=event.seq, step=event.step, event=codec.event_to_proto(event.event)
            )
