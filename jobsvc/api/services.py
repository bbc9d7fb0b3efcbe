"""The gRPC servicers: translate requests with jobsvc.codec, call JobsApp,
and let jobsvc.api.status map every error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc

from jobsvc import codec
from jobsvc.api.auth import caller
from jobsvc.api.status import server_streaming, unary
from jobsvc.app.jobs import JobsApp
from jobsvc.app.operations import Operations
from jobsvc.app.pauses import Pauses
from jobsvc.app.schedules import Schedules
from jobsvc.domain.errors import FieldViolation, InvalidArgument, ResourceExhausted
from jobsvc.domain.jobs import Job, JobEvent, JobView
from jobsvc.domain.limits import field_size
from jobsvc.domain.pauses import PauseTarget
from jobsvc.v1 import (
    call_service_pb2,
    call_service_pb2_grpc,
    job_service_pb2,
    job_service_pb2_grpc,
    operation_service_pb2,
    operation_service_pb2_grpc,
    pause_service_pb2,
    pause_service_pb2_grpc,
    schedule_service_pb2,
    schedule_service_pb2_grpc,
    stream_service_pb2,
    stream_service_pb2_grpc,
    submit_service_pb2,
    submit_service_pb2_grpc,
)
from jobsvc.v1.job_pb2 import Job as JobMessage
from jobsvc.v1.job_pb2 import JobEvent as EventMessage

Context = grpc.aio.ServicerContext[Any, Any]
JOB_ID_METADATA = "jobsvc-job-id"
MAX_REDRIVE = 10_000
MAX_SEQUENCE = 2**31 - 1  # jobsvc_job_events.seq is an integer column
# StreamRequest.max_events_per_message is capped at this (a page of the store's reads).
MAX_EVENTS_PER_MESSAGE = 1000
# Of a ListJobs response, what is not jobs: the next page token and its field.
LIST_OVERHEAD_BYTES = 256


def _job(app: JobsApp, job: Job, view: JobView = JobView.FULL) -> JobMessage:
    """A job as responses carry it: its errors within the budget that keeps it under the limit."""
    return codec.job_to_proto(job, view, app.limits.error_budget)


def _entry_size(message: JobMessage) -> int:
    """Bytes a job takes as one entry of ListJobsResponse.jobs: tag, length and the message."""
    return field_size(message.ByteSize())


def _event_messages(batch: list[JobEvent], most: int, budget: int) -> Iterator[list[EventMessage]]:
    """A batch of events as the `events` of successive StreamResponses: at most `most`
    each, and at most `budget` bytes each unless one event alone is larger (that one goes
    alone, and the response size check answers it as it would a single event)."""
    chunk: list[EventMessage] = []
    size = 0
    for event in batch:
        message = codec.event_to_proto(event)
        entry = field_size(message.ByteSize())
        if chunk and (len(chunk) == most or size + entry > budget):
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += entry
    if chunk:
        yield chunk


class SubmitService(submit_service_pb2_grpc.SubmitServiceServicer):
    """Enqueue jobs."""

    def __init__(self, app: JobsApp) -> None:
        self._app = app

    @unary
    async def Submit(
        self,
        request: submit_service_pb2.SubmitRequest,
        context: Context,
    ) -> submit_service_pb2.SubmitResponse:
        spec = codec.job_spec_from_proto(request.job, "job")
        [(job, created)] = await self._app.submit([(spec, "job")])
        return submit_service_pb2.SubmitResponse(job=_job(self._app, job), created=created)

    @unary
    async def SubmitBatch(
        self,
        request: submit_service_pb2.SubmitBatchRequest,
        context: Context,
    ) -> submit_service_pb2.SubmitBatchResponse:
        limit = self._app.config.max_batch
        if not request.jobs:
            raise InvalidArgument("jobs must not be empty", [FieldViolation("jobs", "at least one job")])
        if len(request.jobs) > limit:
            raise ResourceExhausted(
                f"a batch holds at most {limit} jobs, got {len(request.jobs)}",
                metadata={"field": "jobs", "limit": str(limit)},
            )
        specs = _specs(request.jobs)
        results = await self._app.submit(specs)
        return submit_service_pb2.SubmitBatchResponse(jobs=[_job(self._app, j) for j, _ in results])


def _specs(messages: Any) -> list[tuple[Any, str]]:
    """Convert every JobSpec of a batch, reporting the bad fields of all of them."""
    specs, violations = [], []
    for index, message in enumerate(messages):
        path = f"jobs[{index}]"
        try:
            specs.append((codec.job_spec_from_proto(message, path), path))
        except InvalidArgument as exc:
            violations.extend(exc.violations)
    if violations:
        raise InvalidArgument(f"invalid batch: {violations[0].field}: {violations[0].description}", violations)
    return specs


class CallService(call_service_pb2_grpc.CallServiceServicer):
    """Submit and wait."""

    def __init__(self, app: JobsApp) -> None:
        self._app = app

    @unary
    async def Call(
        self,
        request: call_service_pb2.CallRequest,
        context: Context,
    ) -> call_service_pb2.CallResponse:
        spec = codec.job_spec_from_proto(request.job, "job")
        [(job, _)] = await self._app.submit([(spec, "job")], start_here=True)
        # The id goes out before the wait, so a caller whose deadline passes can
        # still fetch the result later.
        await context.send_initial_metadata(((JOB_ID_METADATA, job.id),))
        if not job.state.terminal:
            job = await self._app.wait_finished(job.id)
        return call_service_pb2.CallResponse(job=_job(self._app, job))


class StreamService(stream_service_pb2_grpc.StreamServiceServicer):
    """Follow a job's events."""

    def __init__(self, app: JobsApp) -> None:
        self._app = app

    @server_streaming
    async def Stream(
        self,
        request: stream_service_pb2.StreamRequest,
        context: Context,
    ) -> AsyncIterator[stream_service_pb2.StreamResponse]:
        target = request.WhichOneof("target")
        if not 0 <= request.after_sequence <= MAX_SEQUENCE:
            raise InvalidArgument(
                f"after_sequence must be 0..{MAX_SEQUENCE}",
                [FieldViolation("after_sequence", f"must be 0..{MAX_SEQUENCE} (sequences are 32-bit in storage)")],
            )
        if target == "submit":
            spec = codec.job_spec_from_proto(request.submit, "submit")
            [(job, _)] = await self._app.submit([(spec, "submit")])
            job_id = job.id
        elif target == "job_id":
            job_id = codec.job_id_from_request(request.job_id, "job_id")
        else:
            raise InvalidArgument("set submit or job_id", [FieldViolation("target", "submit or job_id")])
        await context.send_initial_metadata(((JOB_ID_METADATA, job_id),))
        # 0 or 1 (clients before the field): one event per message, in `event`.
        batched = request.max_events_per_message > 1
        most = min(request.max_events_per_message, MAX_EVENTS_PER_MESSAGE) if batched else 1
        async for batch in self._app.event_batches(job_id, request.after_sequence):
            for events in _event_messages(batch, most, self._app.limits.max_message_bytes):
                yield (
                    stream_service_pb2.StreamResponse(events=events)
                    if batched
                    else stream_service_pb2.StreamResponse(event=events[0])
                )


class JobService(job_service_pb2_grpc.JobServiceServicer):
    """Inspect and manage jobs; discover handlers."""

    def __init__(self, app: JobsApp) -> None:
        self._app = app

    @unary
    async def GetJob(
        self,
        request: job_service_pb2.GetJobRequest,
        context: Context,
    ) -> job_service_pb2.GetJobResponse:
        job_id = codec.job_id_from_request(request.id, "id")
        view = codec.view_from_proto(request.view, "view")
        job = await self._app.get(job_id, view)
        return job_service_pb2.GetJobResponse(job=_job(self._app, job, view))

    @unary
    async def ListJobs(
        self,
        request: job_service_pb2.ListJobsRequest,
        context: Context,
    ) -> job_service_pb2.ListJobsResponse:
        if not 0 <= request.page_size <= 1000:
            raise InvalidArgument("page_size must be 0..1000", [FieldViolation("page_size", "0..1000")])
        states = codec.states_from_proto(request.states, "states")
        cursor = codec.decode_page_token(request.page_token, "page_token")
        view = codec.view_from_proto(request.view, "view")
        created_after, created_before = codec.created_range_from_proto(request)
        # Sized by bytes too: the page ends before the response would go over the limit.
        jobs, next_cursor = await self._app.list_jobs(
            states,
            request.handler or None,
            request.page_size or 100,
            cursor,
            view,
            encode=lambda job: _job(self._app, job, view),
            size=_entry_size,
            budget=self._app.limits.max_message_bytes - LIST_OVERHEAD_BYTES,
            labels=codec.label_filter_from_proto(request.labels, "labels"),
            version=request.version or None,
            created_after=created_after,
            created_before=created_before,
        )
        return job_service_pb2.ListJobsResponse(
            jobs=jobs, next_page_token=codec.encode_page_token(next_cursor) if next_cursor else ""
        )

    @unary
    async def CancelJob(
        self,
        request: job_service_pb2.CancelJobRequest,
        context: Context,
    ) -> job_service_pb2.CancelJobResponse:
        job_id = codec.job_id_from_request(request.id, "id")
        job = await self._app.cancel(job_id, request.reason or "cancelled by request")
        return job_service_pb2.CancelJobResponse(job=_job(self._app, job))

    @unary
    async def ListHandlers(
        self,
        request: job_service_pb2.ListHandlersRequest,
        context: Context,
    ) -> job_service_pb2.ListHandlersResponse:
        specs = await self._app.handlers(request.name or None)
        return job_service_pb2.ListHandlersResponse(handlers=[codec.handler_to_proto(s) for s in specs])

    @unary
    async def RedriveJob(
        self,
        request: job_service_pb2.RedriveJobRequest,
        context: Context,
    ) -> job_service_pb2.RedriveJobResponse:
        job_id = codec.job_id_from_request(request.id, "id")
        job = await self._app.redrive(job_id)
        return job_service_pb2.RedriveJobResponse(job=_job(self._app, job))

    @unary
    async def RedriveJobs(
        self,
        request: job_service_pb2.RedriveJobsRequest,
        context: Context,
    ) -> job_service_pb2.RedriveJobsResponse:
        if not request.handler:
            raise InvalidArgument("handler is required", [FieldViolation("handler", "required")])
        if not 0 <= request.limit <= MAX_REDRIVE:
            raise InvalidArgument(f"limit must be 0..{MAX_REDRIVE}", [FieldViolation("limit", f"0..{MAX_REDRIVE}")])
        redriven = await self._app.redrive_many(request.handler, request.version or None, request.limit or MAX_REDRIVE)
        return job_service_pb2.RedriveJobsResponse(job_ids=[j.id for j in redriven])


def _schedule_name(value: str) -> str:
    if not value:
        raise InvalidArgument("name is required", [FieldViolation("name", "required")])
    return value


class ScheduleService(schedule_service_pb2_grpc.ScheduleServiceServicer):
    """Cron and interval schedules that submit jobs."""

    def __init__(self, schedules: Schedules) -> None:
        self._schedules = schedules

    @unary
    async def CreateSchedule(
        self,
        request: schedule_service_pb2.CreateScheduleRequest,
        context: Context,
    ) -> schedule_service_pb2.CreateScheduleResponse:
        schedule = codec.schedule_from_proto(request.schedule, "schedule")
        created = await self._schedules.create(schedule, "schedule.job")
        return schedule_service_pb2.CreateScheduleResponse(schedule=codec.schedule_to_proto(created))

    @unary
    async def GetSchedule(
        self,
        request: schedule_service_pb2.GetScheduleRequest,
        context: Context,
    ) -> schedule_service_pb2.GetScheduleResponse:
        found = await self._schedules.get(_schedule_name(request.name))
        return schedule_service_pb2.GetScheduleResponse(schedule=codec.schedule_to_proto(found))

    @unary
    async def ListSchedules(
        self,
        request: schedule_service_pb2.ListSchedulesRequest,
        context: Context,
    ) -> schedule_service_pb2.ListSchedulesResponse:
        found = await self._schedules.list()
        return schedule_service_pb2.ListSchedulesResponse(schedules=[codec.schedule_to_proto(s) for s in found])

    @unary
    async def PauseSchedule(
        self,
        request: schedule_service_pb2.PauseScheduleRequest,
        context: Context,
    ) -> schedule_service_pb2.PauseScheduleResponse:
        found = await self._schedules.set_paused(_schedule_name(request.name), paused=True)
        return schedule_service_pb2.PauseScheduleResponse(schedule=codec.schedule_to_proto(found))

    @unary
    async def ResumeSchedule(
        self,
        request: schedule_service_pb2.ResumeScheduleRequest,
        context: Context,
    ) -> schedule_service_pb2.ResumeScheduleResponse:
        found = await self._schedules.set_paused(_schedule_name(request.name), paused=False)
        return schedule_service_pb2.ResumeScheduleResponse(schedule=codec.schedule_to_proto(found))

    @unary
    async def DeleteSchedule(
        self,
        request: schedule_service_pb2.DeleteScheduleRequest,
        context: Context,
    ) -> schedule_service_pb2.DeleteScheduleResponse:
        await self._schedules.delete(_schedule_name(request.name))
        return schedule_service_pb2.DeleteScheduleResponse()


class PauseService(pause_service_pb2_grpc.PauseServiceServicer):
    """Pause and resume handlers and handler versions."""

    def __init__(self, pauses: Pauses) -> None:
        self._pauses = pauses

    @unary
    async def PauseHandler(
        self,
        request: pause_service_pb2.PauseHandlerRequest,
        context: Context,
    ) -> pause_service_pb2.PauseHandlerResponse:
        target = PauseTarget(handler=request.handler, version=request.version)
        pause = await self._pauses.pause(target, request.reason, paused_by=caller())
        return pause_service_pb2.PauseHandlerResponse(pause=codec.pause_to_proto(pause))

    @unary
    async def ResumeHandler(
        self,
        request: pause_service_pb2.ResumeHandlerRequest,
        context: Context,
    ) -> pause_service_pb2.ResumeHandlerResponse:
        cleared = await self._pauses.resume(PauseTarget(handler=request.handler, version=request.version))
        return pause_service_pb2.ResumeHandlerResponse(was_paused=cleared is not None)

    @unary
    async def PauseFlowKey(
        self,
        request: pause_service_pb2.PauseFlowKeyRequest,
        context: Context,
    ) -> pause_service_pb2.PauseFlowKeyResponse:
        pause = await self._pauses.pause(_flow_key(request.key), request.reason, paused_by=caller())
        return pause_service_pb2.PauseFlowKeyResponse(pause=codec.pause_to_proto(pause))

    @unary
    async def ResumeFlowKey(
        self,
        request: pause_service_pb2.ResumeFlowKeyRequest,
        context: Context,
    ) -> pause_service_pb2.ResumeFlowKeyResponse:
        cleared = await self._pauses.resume(_flow_key(request.key))
        return pause_service_pb2.ResumeFlowKeyResponse(was_paused=cleared is not None)

    @unary
    async def ListPauses(
        self,
        request: pause_service_pb2.ListPausesRequest,
        context: Context,
    ) -> pause_service_pb2.ListPausesResponse:
        found = await self._pauses.list()
        return pause_service_pb2.ListPausesResponse(pauses=[codec.pause_to_proto(p) for p in found])


def _flow_key(key: str) -> PauseTarget:
    if not key:
        raise InvalidArgument("key is required", [FieldViolation("key", "required")])
    return PauseTarget(flow_key=key)


class OperationService(operation_service_pb2_grpc.OperationServiceServicer):
    """Bulk actions by filter, as background operations."""

    def __init__(self, operations: Operations) -> None:
        self._operations = operations

    @unary
    async def StartBulkAction(
        self,
        request: operation_service_pb2.StartBulkActionRequest,
        context: Context,
    ) -> operation_service_pb2.StartBulkActionResponse:
        operation = await self._operations.begin(
            codec.bulk_action_from_proto(request.action, "action"),
            codec.job_filter_from_proto(request.filter, "filter"),
            dry_run=request.dry_run,
            max_jobs_per_second=request.max_jobs_per_second,
            created_by=caller(),
        )
        return operation_service_pb2.StartBulkActionResponse(operation=codec.operation_to_proto(operation))

    @unary
    async def GetOperation(
        self,
        request: operation_service_pb2.GetOperationRequest,
        context: Context,
    ) -> operation_service_pb2.GetOperationResponse:
        found = await self._operations.get(codec.job_id_from_request(request.id, "id"))
        return operation_service_pb2.GetOperationResponse(operation=codec.operation_to_proto(found))

    @unary
    async def ListOperations(
        self,
        request: operation_service_pb2.ListOperationsRequest,
        context: Context,
    ) -> operation_service_pb2.ListOperationsResponse:
        found = await self._operations.recent()
        return operation_service_pb2.ListOperationsResponse(operations=[codec.operation_to_proto(o) for o in found])

    @server_streaming
    async def StreamOperation(
        self,
        request: operation_service_pb2.StreamOperationRequest,
        context: Context,
    ) -> AsyncIterator[operation_service_pb2.StreamOperationResponse]:
        async for operation in self._operations.watch(codec.job_id_from_request(request.id, "id")):
            yield operation_service_pb2.StreamOperationResponse(operation=codec.operation_to_proto(operation))

    @unary
    async def CancelOperation(
        self,
        request: operation_service_pb2.CancelOperationRequest,
        context: Context,
    ) -> operation_service_pb2.CancelOperationResponse:
        found = await self._operations.cancel(codec.job_id_from_request(request.id, "id"))
        return operation_service_pb2.CancelOperationResponse(operation=codec.operation_to_proto(found))
