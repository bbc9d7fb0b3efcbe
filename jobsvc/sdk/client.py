"""A thin asyncio client for jobsvc.

    async with Client("127.0.0.1:50051") as client:
        job = await client.call("resize_image", {"url": "..."}, version="^2", timeout=30)
        print(job.state, payload_value(job.result))

Over TLS, with a client certificate (mutual TLS) and a bearer token:

    security = ClientSecurity(ca=Path("ca.pem"), cert=Path("me.pem"), key=Path("me.key"), token="…")
    async with Client("jobsvc.internal:50051", security=security) as client: ...

Methods return the protobuf messages of jobsvc.v1 (Job, JobEvent, HandlerInfo);
`payload_value` turns a Payload into a Python value. Errors are grpc.aio.AioRpcError
with google.rpc details, which `error_details` reads.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from jobsvc.domain.jobs import integral_numbers_as_int
from jobsvc.observability.tracing import current_carrier
from jobsvc.v1 import (
    call_service_pb2,
    call_service_pb2_grpc,
    job_pb2,
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
    workflow_service_pb2,
    workflow_service_pb2_grpc,
)

JOB_ID_METADATA = "jobsvc-job-id"
RESUMABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.CANCELLED)
# Events per StreamResponse the stream asks for (the server's cap).
STREAM_EVENTS_PER_MESSAGE = 1000


def to_payload(value: Any) -> job_pb2.Payload:
    """A Python value (JSON-like) or a protobuf message as a Payload."""
    if isinstance(value, job_pb2.Payload):
        return value
    if isinstance(value, Message):
        payload = job_pb2.Payload()
        payload.proto.Pack(value)
        return payload
    json_value = struct_pb2.Value()
    json_format.ParseDict(value, json_value)
    return job_pb2.Payload(json=json_value)


def payload_value(payload: job_pb2.Payload) -> Any:
    """The Python value of a JSON payload, or the google.protobuf.Any of a typed one."""
    kind = payload.WhichOneof("kind")
    if kind == "json":
        return integral_numbers_as_int(json_format.MessageToDict(payload.json))
    if kind == "proto":
        return payload.proto
    return None


def job_spec(
    handler: str,
    input: Any = None,
    *,
    version: str = "",
    priority: int = 0,
    idempotency_key: str = "",
    labels: Mapping[str, str] | None = None,
    delay: float | timedelta | None = None,
    run_at: datetime | None = None,
) -> job_pb2.JobSpec:
    """Build a JobSpec."""
    spec = job_pb2.JobSpec(
        handler=handler,
        version=version,
        input=to_payload(input),
        priority=priority,
        idempotency_key=idempotency_key,
        labels=dict(labels or {}),
    )
    if delay is not None:
        spec.delay.FromTimedelta(delay if isinstance(delay, timedelta) else timedelta(seconds=delay))
    if run_at is not None:
        spec.run_at.FromDatetime(run_at)
    return spec


def workflow_step(
    name: str,
    handler: str,
    input: Any = None,
    *,
    depends_on: Sequence[str] = (),
    inputs: Mapping[str, str | tuple[str, str]] | None = None,
    merge: Sequence[str | tuple[str, str]] = (),
    optional: bool = False,
    map_over: str | tuple[str, str] | None = None,
    map_key: str = "",
    max_items: int = 0,
    **options: Any,
) -> workflow_service_pb2.WorkflowStep:
    """Build a WorkflowStep: `inputs` maps a key of this step's input to a parent step
    (its whole result) or to (step, "field.path"); `merge` lists parents (or (step, path))
    whose object result is merged into the input; `map_over` (a parent, or (step, path)
    to a list) runs the step once per element, given under `map_key` (or merged), at most
    `max_items` (0: the server's default). Parents named there are added to depends_on.
    Other options are job_spec's."""
    taken = [workflow_service_pb2.StepInput(key=key, **_step_source(source)) for key, source in (inputs or {}).items()]
    taken += [workflow_service_pb2.StepInput(**_step_source(source)) for source in merge]
    mapped = (
        None
        if map_over is None
        else workflow_service_pb2.StepMap(**_step_source(map_over), key=map_key, max_items=max_items)
    )
    parents = list(dict.fromkeys([*depends_on, *(t.step for t in taken), *([mapped.step] if mapped else [])]))
    return workflow_service_pb2.WorkflowStep(
        name=name,
        job=job_spec(handler, input, **options),
        depends_on=parents,
        inputs=taken,
        optional=optional,
        map=mapped,
    )


def _step_source(source: str | tuple[str, str]) -> dict[str, str]:
    step, path = (source, "") if isinstance(source, str) else source
    return {"step": step, "path": path}


@dataclass(frozen=True)
class ErrorDetails:
    """The google.rpc details of a failed RPC."""

    code: grpc.StatusCode
    message: str
    reason: str
    metadata: dict[str, str]
    field_violations: list[tuple[str, str]]


def error_details(error: grpc.aio.AioRpcError) -> ErrorDetails:
    """Read ErrorInfo and BadRequest from a failed RPC."""
    reason, metadata, violations = "", {}, []
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [(v.field, v.description) for v in bad.field_violations]
    return ErrorDetails(error.code(), error.details() or "", reason, metadata, violations)


@dataclass(frozen=True)
class ClientSecurity:
    """How a client reaches a server: TLS (with a CA file or the system's roots), a client
    certificate for mutual TLS, and a bearer token. The default is plaintext, no token."""

    # Left out of repr: a logged config must not show the token.
    token: str | None = field(default=None, repr=False)
    # TLS with this CA bundle (PEM); `tls=True` alone trusts the system's roots.
    ca: Path | None = None
    tls: bool = False
    cert: Path | None = None
    key: Path | None = None
    # Expect this name in the server's certificate instead of the target's host.
    server_name: str | None = None

    @classmethod
    def from_env(cls, **overrides: Any) -> ClientSecurity:
        """From JOBSVC_TOKEN, JOBSVC_TLS_CA, JOBSVC_TLS_CERT, JOBSVC_TLS_KEY, JOBSVC_TLS (1/true) and
        JOBSVC_TLS_SERVER_NAME; keyword arguments that are not None win."""
        env = os.environ

        def path(name: str) -> Path | None:
            return Path(env[name]) if env.get(name) else None

        values: dict[str, Any] = {
            "token": env.get("JOBSVC_TOKEN") or None,
            "ca": path("JOBSVC_TLS_CA"),
            "tls": env.get("JOBSVC_TLS", "").lower() in ("1", "true", "yes"),
            "cert": path("JOBSVC_TLS_CERT"),
            "key": path("JOBSVC_TLS_KEY"),
            "server_name": env.get("JOBSVC_TLS_SERVER_NAME") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def uses_tls(self) -> bool:
        """True when the channel is TLS."""
        return self.tls or self.ca is not None or self.cert is not None

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The call metadata carrying the token (empty without one)."""
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    def channel(self, target: str, options: Sequence[tuple[str, Any]] = ()) -> grpc.aio.Channel:
        """A channel to target with this security."""
        if not self.uses_tls:
            return grpc.aio.insecure_channel(target, options=options)
        if (self.cert is None) != (self.key is None):
            raise ValueError("a client certificate needs its key, and a key its certificate")
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self.ca.read_bytes() if self.ca else None,
            private_key=self.key.read_bytes() if self.key else None,
            certificate_chain=self.cert.read_bytes() if self.cert else None,
        )
        if self.server_name:
            options = [*options, ("grpc.ssl_target_name_override", self.server_name)]
        return grpc.aio.secure_channel(target, credentials, options=options)


class JobFailed(Exception):
    """Raised by Client.run when the job ended FAILED or CANCELLED."""

    def __init__(self, job: job_pb2.Job) -> None:
        state = job_pb2.JobState.Name(job.state)
        super().__init__(f"job {job.id} {state}: {job.error.type}: {job.error.message}")
        self.job = job


class Client:
    """One channel to a jobsvc server (or a balancer in front of several)."""

    def __init__(
        self,
        target: str,
        *,
        security: ClientSecurity | None = None,
        channel: grpc.aio.Channel | None = None,
        metadata: Sequence[tuple[str, str]] = (),
    ) -> None:
        security = security or ClientSecurity()
        self._channel = channel or security.channel(target)
        self._metadata = (*security.metadata, *metadata)
        self._submit = submit_service_pb2_grpc.SubmitServiceStub(self._channel)
        self._call = call_service_pb2_grpc.CallServiceStub(self._channel)
        self._stream = stream_service_pb2_grpc.StreamServiceStub(self._channel)
        self._jobs = job_service_pb2_grpc.JobServiceStub(self._channel)
        self._schedules = schedule_service_pb2_grpc.ScheduleServiceStub(self._channel)
        self._pauses = pause_service_pb2_grpc.PauseServiceStub(self._channel)
        self._operations = operation_service_pb2_grpc.OperationServiceStub(self._channel)
        self._workflows = workflow_service_pb2_grpc.WorkflowServiceStub(self._channel)

    def _call_metadata(self) -> tuple[tuple[str, str], ...]:
        """The client's metadata, plus the caller's trace context (W3C) when a span is current."""
        carrier = current_carrier()
        return (*self._metadata, *carrier.items()) if carrier else self._metadata

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def submit(
        self, handler: str, input: Any = None, *, timeout: float | None = None, **options: Any
    ) -> job_pb2.Job:
        """Enqueue one job; returns it once durable."""
        request = submit_service_pb2.SubmitRequest(job=job_spec(handler, input, **options))
        response = await self._submit.Submit(request, timeout=timeout, metadata=self._call_metadata())
        return response.job

    async def submit_batch(
        self, specs: Sequence[job_pb2.JobSpec], *, timeout: float | None = None
    ) -> list[job_pb2.Job]:
        """Enqueue many jobs in one transaction."""
        request = submit_service_pb2.SubmitBatchRequest(jobs=list(specs))
        response = await self._submit.SubmitBatch(request, timeout=timeout, metadata=self._call_metadata())
        return list(response.jobs)

    async def call(
        self, handler: str, input: Any = None, *, timeout: float | None = None, **options: Any
    ) -> job_pb2.Job:
        """Submit and wait; the job comes back SUCCEEDED, FAILED or CANCELLED."""
        request = call_service_pb2.CallRequest(job=job_spec(handler, input, **options))
        response = await self._call.Call(request, timeout=timeout, metadata=self._call_metadata())
        return response.job

    async def run(self, handler: str, input: Any = None, **options: Any) -> Any:
        """Call and return the result's value; JobFailed if the job did not succeed."""
        job = await self.call(handler, input, **options)
        if job.state != job_pb2.JOB_STATE_SUCCEEDED:
            raise JobFailed(job)
        return payload_value(job.result)

    async def stream(
        self,
        job_id: str | None = None,
        *,
        submit: job_pb2.JobSpec | None = None,
        after_sequence: int = 0,
        max_reconnects: int = 10,
        reconnect_delay: float = 0.2,
    ) -> AsyncIterator[job_pb2.JobEvent]:
        """Events of a job (attach by id, or submit and stream), ending with the terminal one.

        A dropped connection is resumed from the last sequence seen: no gap, no duplicate.
        """
        if (job_id is None) == (submit is None):
            raise ValueError("give job_id or submit")
        # Events come several to a message (StreamRequest.max_events_per_message) and are
        # handed out one by one; a server older than that field sends them in `event`.
        request = stream_service_pb2.StreamRequest(
            after_sequence=after_sequence, max_events_per_message=STREAM_EVENTS_PER_MESSAGE
        )
        if submit is not None:
            request.submit.CopyFrom(submit)
        else:
            request.job_id = job_id or ""
        reconnects = 0
        while True:
            call = self._stream.Stream(request, metadata=self._call_metadata())
            try:
                async for response in call:
                    for event in response.events or (response.event,):
                        request = stream_service_pb2.StreamRequest(
                            job_id=event.job_id,
                            after_sequence=event.sequence,
                            max_events_per_message=STREAM_EVENTS_PER_MESSAGE,
                        )
                        yield event
                        if event.WhichOneof("kind") in ("succeeded", "failed", "cancelled"):
                            return
                return
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in RESUMABLE or reconnects >= max_reconnects:
                    raise
                if request.WhichOneof("target") == "submit":
                    # Nothing arrived yet; only a known job id can be resumed safely.
                    job_id_sent = dict(await call.initial_metadata() or ()).get(JOB_ID_METADATA)
                    if not job_id_sent:
                        raise
                    request = stream_service_pb2.StreamRequest(job_id=str(job_id_sent), after_sequence=0)
                reconnects += 1
                await asyncio.sleep(reconnect_delay * reconnects)
            finally:
                call.cancel()

    async def get(
        self,
        job_id: str,
        *,
        view: job_service_pb2.JobView.ValueType = job_service_pb2.JOB_VIEW_UNSPECIFIED,
        timeout: float | None = None,
    ) -> job_pb2.Job:
        """One job; view JOB_VIEW_BASIC leaves out its input, result and tracebacks (default FULL)."""
        response = await self._jobs.GetJob(
            job_service_pb2.GetJobRequest(id=job_id, view=view), timeout=timeout, metadata=self._call_metadata()
        )
        return response.job

    async def list_jobs(
        self,
        *,
        states: Sequence[job_pb2.JobState.ValueType] = (),
        handler: str = "",
        page_size: int = 0,
        page_token: str = "",
        view: job_service_pb2.JobView.ValueType = job_service_pb2.JOB_VIEW_UNSPECIFIED,
        labels: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> job_service_pb2.ListJobsResponse:
        """One page of jobs, newest first (fewer than page_size when large jobs fill the
        response); view JOB_VIEW_BASIC leaves out inputs, results and tracebacks; labels:
        only jobs carrying every one of them."""
        request = job_service_pb2.ListJobsRequest(
            states=list(states),
            handler=handler,
            page_size=page_size,
            page_token=page_token,
            view=view,
            labels=dict(labels or {}),
        )
        response: job_service_pb2.ListJobsResponse = await self._jobs.ListJobs(
            request, timeout=timeout, metadata=self._call_metadata()
        )
        return response

    async def cancel(self, job_id: str, reason: str = "", *, timeout: float | None = None) -> job_pb2.Job:
        """Cancel a job."""
        response = await self._jobs.CancelJob(
            job_service_pb2.CancelJobRequest(id=job_id, reason=reason), timeout=timeout, metadata=self._call_metadata()
        )
        return response.job

    async def redrive(self, job_id: str, *, timeout: float | None = None) -> job_pb2.Job:
        """Re-run a dead-lettered (FAILED) job as a new job; returns the new job."""
        response = await self._jobs.RedriveJob(
            job_service_pb2.RedriveJobRequest(id=job_id), timeout=timeout, metadata=self._call_metadata()
        )
        return response.job

    async def redrive_all(
        self, handler: str, *, version: str = "", limit: int = 0, timeout: float | None = None
    ) -> list[str]:
        """Re-run every dead-lettered job of a handler (optionally one version); the new ids."""
        response = await self._jobs.RedriveJobs(
            job_service_pb2.RedriveJobsRequest(handler=handler, version=version, limit=limit),
            timeout=timeout,
            metadata=self._call_metadata(),
        )
        return list(response.job_ids)

    async def handlers(self, name: str = "", *, timeout: float | None = None) -> list[job_pb2.HandlerInfo]:
        """Handler versions the service knows."""
        response = await self._jobs.ListHandlers(
            job_service_pb2.ListHandlersRequest(name=name), timeout=timeout, metadata=self._call_metadata()
        )
        return list(response.handlers)

    # -- schedules ------------------------------------------------------------------

    async def create_schedule(
        self,
        name: str,
        handler: str,
        input: Any = None,
        *,
        cron: str | None = None,
        every: float | None = None,
        time_zone: str = "",
        missed_ticks: str = "skip",
        paused: bool = False,
        while_paused: str = "skip",
        timeout: float | None = None,
        **options: Any,
    ) -> schedule_service_pb2.Schedule:
        """Submit a job of `handler` on a cron expression or every `every` seconds.
        while_paused: "skip" (a tick while the job's handler, version or key is paused
        submits nothing) or "keep" (it is submitted and waits for the resume)."""
        schedule = schedule_service_pb2.Schedule(
            name=name,
            job=job_spec(handler, input, **options),
            time_zone=time_zone,
            missed_ticks=schedule_service_pb2.MissedTicks.Value(f"MISSED_TICKS_{missed_ticks.upper()}"),
            while_paused=schedule_service_pb2.WhilePaused.Value(f"WHILE_PAUSED_{while_paused.upper()}"),
            paused=paused,
        )
        if cron is not None:
            schedule.cron = cron
        if every is not None:
            schedule.interval.FromTimedelta(timedelta(seconds=every))
        request = schedule_service_pb2.CreateScheduleRequest(schedule=schedule)
        response = await self._schedules.CreateSchedule(request, timeout=timeout, metadata=self._metadata)
        return response.schedule

    async def get_schedule(self, name: str, *, timeout: float | None = None) -> schedule_service_pb2.Schedule:
        """One schedule."""
        request = schedule_service_pb2.GetScheduleRequest(name=name)
        return (await self._schedules.GetSchedule(request, timeout=timeout, metadata=self._metadata)).schedule

    async def list_schedules(self, *, timeout: float | None = None) -> list[schedule_service_pb2.Schedule]:
        """Every schedule."""
        request = schedule_service_pb2.ListSchedulesRequest()
        return list((await self._schedules.ListSchedules(request, timeout=timeout, metadata=self._metadata)).schedules)

    async def pause_schedule(self, name: str, *, timeout: float | None = None) -> schedule_service_pb2.Schedule:
        """No jobs for ticks until resumed."""
        request = schedule_service_pb2.PauseScheduleRequest(name=name)
        return (await self._schedules.PauseSchedule(request, timeout=timeout, metadata=self._metadata)).schedule

    async def resume_schedule(self, name: str, *, timeout: float | None = None) -> schedule_service_pb2.Schedule:
        """Carry on from the next tick."""
        request = schedule_service_pb2.ResumeScheduleRequest(name=name)
        return (await self._schedules.ResumeSchedule(request, timeout=timeout, metadata=self._metadata)).schedule

    async def delete_schedule(self, name: str, *, timeout: float | None = None) -> None:
        """Delete a schedule (the jobs it submitted stay)."""
        request = schedule_service_pb2.DeleteScheduleRequest(name=name)
        await self._schedules.DeleteSchedule(request, timeout=timeout, metadata=self._metadata)

    async def pause(
        self, handler: str, version: str = "", *, reason: str = "", timeout: float | None = None
    ) -> pause_service_pb2.Pause:
        """Pause a handler (or one exact version): its queued jobs stay queued, running ones
        finish. Returns once every replica obeys: no job of it starts after this."""
        request = pause_service_pb2.PauseHandlerRequest(handler=handler, version=version, reason=reason)
        return (await self._pauses.PauseHandler(request, timeout=timeout, metadata=self._metadata)).pause

    async def resume(self, handler: str, version: str = "", *, timeout: float | None = None) -> bool:
        """Resume what pause(handler, version) paused; False when it was not paused."""
        request = pause_service_pb2.ResumeHandlerRequest(handler=handler, version=version)
        return (await self._pauses.ResumeHandler(request, timeout=timeout, metadata=self._metadata)).was_paused

    async def pause_flow_key(
        self, key: str, *, reason: str = "", timeout: float | None = None
    ) -> pause_service_pb2.Pause:
        """Pause every job carrying this flow-control key (a tenant's, say), as pause does."""
        request = pause_service_pb2.PauseFlowKeyRequest(key=key, reason=reason)
        return (await self._pauses.PauseFlowKey(request, timeout=timeout, metadata=self._metadata)).pause

    async def resume_flow_key(self, key: str, *, timeout: float | None = None) -> bool:
        """Resume the jobs of a paused flow-control key; False when it was not paused."""
        request = pause_service_pb2.ResumeFlowKeyRequest(key=key)
        return (await self._pauses.ResumeFlowKey(request, timeout=timeout, metadata=self._metadata)).was_paused

    async def bulk(
        self,
        action: operation_service_pb2.BulkAction.ValueType,
        job_filter: operation_service_pb2.JobFilter,
        *,
        dry_run: bool = False,
        max_jobs_per_second: float = 0.0,
        timeout: float | None = None,
    ) -> operation_service_pb2.Operation:
        """Cancel, redrive or delete every job job_filter selects, as a background operation
        (dry_run: only count them); follow it with watch_operation or get_operation."""
        request = operation_service_pb2.StartBulkActionRequest(
            action=action, filter=job_filter, dry_run=dry_run, max_jobs_per_second=max_jobs_per_second
        )
        return (await self._operations.StartBulkAction(request, timeout=timeout, metadata=self._metadata)).operation

    async def get_operation(
        self, operation_id: str, *, timeout: float | None = None
    ) -> operation_service_pb2.Operation:
        """A bulk operation and its progress."""
        request = operation_service_pb2.GetOperationRequest(id=operation_id)
        return (await self._operations.GetOperation(request, timeout=timeout, metadata=self._metadata)).operation

    async def list_operations(self, *, timeout: float | None = None) -> list[operation_service_pb2.Operation]:
        """The newest bulk operations."""
        request = operation_service_pb2.ListOperationsRequest()
        response = await self._operations.ListOperations(request, timeout=timeout, metadata=self._metadata)
        return list(response.operations)

    async def watch_operation(
        self, operation_id: str, *, max_reconnects: int = 10, reconnect_delay: float = 0.2
    ) -> AsyncIterator[operation_service_pb2.Operation]:
        """A bulk operation now, then each time its state or progress changes, ending with
        its final state. A dropped connection is resumed (the state is read afresh, so
        nothing is missed that matters; an unchanged repeat is not given twice)."""
        request = operation_service_pb2.StreamOperationRequest(id=operation_id)
        last: operation_service_pb2.Operation | None = None
        reconnects = 0
        while True:
            call = self._operations.StreamOperation(request, metadata=self._call_metadata())
            try:
                async for response in call:
                    if response.operation != last:
                        last = response.operation
                        yield last
                return
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in RESUMABLE or reconnects >= max_reconnects:
                    raise
                reconnects += 1
                await asyncio.sleep(reconnect_delay * reconnects)
            finally:
                call.cancel()

    async def cancel_operation(
        self, operation_id: str, *, timeout: float | None = None
    ) -> operation_service_pb2.Operation:
        """Stop a running bulk operation after its batch in flight."""
        request = operation_service_pb2.CancelOperationRequest(id=operation_id)
        return (await self._operations.CancelOperation(request, timeout=timeout, metadata=self._metadata)).operation

    async def list_pauses(self, *, timeout: float | None = None) -> list[pause_service_pb2.Pause]:
        """The pauses in force."""
        request = pause_service_pb2.ListPausesRequest()
        return list((await self._pauses.ListPauses(request, timeout=timeout, metadata=self._metadata)).pauses)

    async def submit_workflow(
        self,
        steps: Sequence[workflow_service_pb2.WorkflowStep],
        *,
        name: str = "",
        labels: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> workflow_service_pb2.Workflow:
        """Submit a workflow (steps from `workflow_step`) in one transaction; returns it once durable."""
        request = workflow_service_pb2.SubmitWorkflowRequest(name=name, steps=list(steps), labels=dict(labels or {}))
        response = await self._workflows.SubmitWorkflow(request, timeout=timeout, metadata=self._call_metadata())
        return response.workflow

    async def call_workflow(
        self,
        steps: Sequence[workflow_service_pb2.WorkflowStep],
        *,
        name: str = "",
        labels: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> workflow_service_pb2.CallWorkflowResponse:
        """Submit a workflow and wait until every step has finished: the response has the
        workflow and its sink steps with their results (`outputs`)."""
        submit = workflow_service_pb2.SubmitWorkflowRequest(name=name, steps=list(steps), labels=dict(labels or {}))
        request = workflow_service_pb2.CallWorkflowRequest(workflow=submit)
        return await self._workflows.CallWorkflow(request, timeout=timeout, metadata=self._call_metadata())

    async def get_workflow(
        self, workflow_id: str, *, full: bool = False, timeout: float | None = None
    ) -> workflow_service_pb2.Workflow:
        """A workflow and each step's job (with inputs and results when `full`)."""
        view = job_service_pb2.JOB_VIEW_FULL if full else job_service_pb2.JOB_VIEW_BASIC
        request = workflow_service_pb2.GetWorkflowRequest(id=workflow_id, view=view)
        return (await self._workflows.GetWorkflow(request, timeout=timeout, metadata=self._metadata)).workflow

    async def list_workflows(
        self, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> workflow_service_pb2.ListWorkflowsResponse:
        """One page of workflows, newest first, without their steps."""
        request = workflow_service_pb2.ListWorkflowsRequest(page_size=page_size, page_token=page_token)
        return await self._workflows.ListWorkflows(request, timeout=timeout, metadata=self._metadata)

    async def redrive_workflow_step(
        self, workflow_id: str, step: str, *, timeout: float | None = None
    ) -> workflow_service_pb2.Workflow:
        """Run a FAILED step again; the dependants its failure cancelled wait for it again."""
        request = workflow_service_pb2.RedriveWorkflowStepRequest(id=workflow_id, step=step)
        return (await self._workflows.RedriveWorkflowStep(request, timeout=timeout, metadata=self._metadata)).workflow

    async def stream_workflow(
        self,
        workflow_id: str,
        *,
        after_sequence: int = 0,
        max_reconnects: int = 10,
        reconnect_delay: float = 0.2,
    ) -> AsyncIterator[workflow_service_pb2.StreamWorkflowResponse]:
        """Every step's events (`.step`, `.event`) in the workflow's one sequence, ending when
        the workflow has finished. A dropped connection is resumed from the last sequence
        seen: no gap, no duplicate."""
        reconnects = 0
        while True:
            request = workflow_service_pb2.StreamWorkflowRequest(id=workflow_id, after_sequence=after_sequence)
            call = self._workflows.StreamWorkflow(request, metadata=self._call_metadata())
            try:
                async for event in call:
                    after_sequence = event.sequence
                    yield event
                return
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in RESUMABLE or reconnects >= max_reconnects:
                    raise
                reconnects += 1
                await asyncio.sleep(reconnect_delay * reconnects)
            finally:
                call.cancel()

    async def cancel_workflow(
        self, workflow_id: str, reason: str = "", *, timeout: float | None = None
    ) -> workflow_service_pb2.Workflow:
        """Cancel every step that has not finished (running ones are asked to stop)."""
        request = workflow_service_pb2.CancelWorkflowRequest(id=workflow_id, reason=reason)
        return (await self._workflows.CancelWorkflow(request, timeout=timeout, metadata=self._metadata)).workflow
