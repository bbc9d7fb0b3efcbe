"""AckService: remote workers, in any language, lease jobs and settle them.

The transport of jobsvc.app.workers (the use cases) and jobsvc.app.dispatch (each
session's Lane): a worker session (the Work stream) is the worker's liveness; its lane
hands out jobs up to the worker's free capacity, extends their leases while the worker
talks, and forwards cancellations. Here: reading and answering messages, message sizes,
and the errors as gRPC statuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import code_pb2

from jobsvc import codec
from jobsvc.api.status import MalformedRequest, OversizedRequest, abort, internal_status, status_for, unary
from jobsvc.app.children import ChildrenApp
from jobsvc.app.children import refused as spawn_refused
from jobsvc.app.dispatch import Fail, Lane, Settler
from jobsvc.app.workers import RemoteWork
from jobsvc.codec import frames
from jobsvc.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    JobsvcError,
    NotFound,
    ResourceExhausted,
)
from jobsvc.domain.jobs import Claim, EventKind, JobError, JobState
from jobsvc.domain.limits import (
    INPUT_TOO_LARGE,
    PARTIAL_OUTPUT_TOO_LARGE,
    RESULT_TOO_LARGE,
    PayloadLimits,
    field_size,
    payload_size,
    progress_message,
)
from jobsvc.domain.workers import Worker
from jobsvc.observability.metrics import Metrics
from jobsvc.supervisor import Backoff, TaskState, run_rounds
from jobsvc.v1 import ack_service_pb2, ack_service_pb2_grpc, children_pb2

log = logging.getLogger("jobsvc.ack")

Context = grpc.aio.ServicerContext[Any, Any]
MAX_LEASE_WAIT = 30.0
# A session that ends still writes the settlements its worker sent, for up to this long.
WRITES_GRACE = 5.0
# A payload over the limit fails its attempt: (what it is, ErrorInfo reason) by error type.
_TOO_LARGE = {
    RESULT_TOO_LARGE: ("result", "RESULT_TOO_LARGE"),
    PARTIAL_OUTPUT_TOO_LARGE: ("partial output", "PARTIAL_OUTPUT_TOO_LARGE"),
}
_TOO_LARGE_REASONS = frozenset(reason for _, reason in _TOO_LARGE.values())


class Settlements:
    """Ack, nack, reject and progress requests by attempt token, read and answered for
    the stream and the unary API alike; the writes go through the Settler."""

    def __init__(self, work: RemoteWork, settler: Settler, limits: PayloadLimits) -> None:
        self._work = work
        self._limits = limits
        self._settler = settler
        self._refused = work.refused

    async def ack(self, request: ack_service_pb2.AckRequest, path: str) -> JobState:
        job_id, token = codec.lease_ref_from_request(request.job_id, request.attempt_token, path)
        result = codec.payload_from_proto(request.result, f"{path}.result")
        size = payload_size(result)
        if size > self._limits.payload:
            # Stored, it could never be read back: the attempt fails instead (the same
            # handler would return the same bytes again, so it is not retried).
            raise await self.fail_oversized(job_id, token, RESULT_TOO_LARGE, f"{path}.result", size)
        if await self._settler.succeed(job_id, token, result) is None:
            raise await self._refused(job_id)
        return JobState.SUCCEEDED

    async def fail_oversized(self, job_id: str, token: str, error_type: str, field: str, size: int) -> JobsvcError:
        """Fail an attempt non-retryably for a payload over the limit; the error the request
        is answered with (STALE_ATTEMPT when the attempt was no longer current)."""
        limit = self._limits.payload
        what, reason = _TOO_LARGE[error_type]
        message = f"the {what} is {size} bytes, over the limit of {limit} bytes (server option --max-payload-bytes)"
        change = await self._settler.fail(job_id, token, JobError(error_type, message, non_retryable=True))
        if change is None:
            return await self._refused(job_id)
        return ResourceExhausted(
            f"{message}; the attempt failed ({error_type}), and the job is {change.state.value}",
            reason=reason,
            metadata={
                "field": field,
                "limit": str(limit),
                "size": str(size),
                "job_id": job_id,
                "state": change.state.value,
            },
        )

    async def nack(
        self,
        request: ack_service_pb2.NackRequest,
        path: str,
        *,
        reject: bool = False,
    ) -> tuple[JobState, Any]:
        job_id, token = codec.lease_ref_from_request(request.job_id, request.attempt_token, path)
        error = self._limits.bounded_error(codec.error_from_proto(request.error))
        if reject:
            error = JobError(
                error.type if request.error.type else "jobsvc.Rejected",
                error.message,
                error.traceback,
                non_retryable=True,
            )
        delay = None
        if not reject and request.HasField("retry_delay"):
            delay = codec.delay_seconds(request.retry_delay, f"{path}.retry_delay")
        change = await self._settler.fail(job_id, token, error, delay)  # a retry wakes claim loops
        if change is None:
            raise await self._refused(job_id)
        return change.state, change.next_run_at

    async def park(self, request: children_pb2.ParkRequest, path: str) -> None:
        """Park the attempt (a settlement: the job waits for its children or its sleep)."""
        job_id, token = codec.lease_ref_from_request(request.job_id, request.attempt_token, path)
        if not await self._settler.park(job_id, token, codec.park_from_proto(request, path)):
            raise await self._refused(job_id)

    async def spawn(self, request: children_pb2.SpawnRequest, path: str) -> children_pb2.SpawnResponse:
        """Spawn a child of the attempt's job; a refusal is the answer's code, not the stream's."""
        answer = children_pb2.SpawnResponse(request_id=request.request_id)
        try:
            job_id, token = codec.lease_ref_from_request(request.job_id, request.attempt_token, path)
            spec = codec.job_spec_from_proto(request.job, f"{path}.job")
            answer.child_job_id = (await self._children().spawn(job_id, token, request.spawn_key, spec)).id
        except JobsvcError as exc:  # a refusal, or UNAVAILABLE/ABORTED: the worker may try again
            answer.code, answer.reason = status_for(exc).code, exc.reason
            answer.message, answer.field = exc.message, spawn_refused(exc).field_path
        return answer

    async def children(self, request: children_pb2.ChildrenRequest, path: str) -> children_pb2.ChildrenResponse:
        """The attempt's job's children among those named, and its recorded sleeps."""
        job_id, _ = codec.lease_ref_from_request(request.job_id, request.attempt_token, path)
        ids = [codec.job_id_from_request(c, f"{path}.child_job_ids[{i}]") for i, c in enumerate(request.child_job_ids)]
        app = self._children()
        answer = children_pb2.ChildrenResponse(request_id=request.request_id)
        answer.children.extend(codec.job_to_proto(job) for job in await app.children(job_id, ids))
        for key, ends in (await app.sleeps(job_id)).items():
            answer.sleeps[key].CopyFrom(codec.timestamp_to_proto(ends))
        return answer

    def _children(self) -> ChildrenApp:
        if self._work.children is None:
            raise FailedPrecondition("this server does not run child jobs", reason="CHILDREN_UNSUPPORTED")
        return self._work.children

    async def progress(self, request: ack_service_pb2.ReportProgressRequest, path: str) -> int:
        job_id, token = codec.lease_ref_from_request(request.job_id, request.attempt_token, path)
        update = request.WhichOneof("update")
        if update == "progress":
            percent = min(100.0, max(0.0, request.progress.percent))
            message = progress_message(request.progress.message)
            return await self._work.progress(
                job_id, token, EventKind.PROGRESS, {"percent": percent, "message": message}
            )
        elif update == "partial_output":
            field = f"{path}.partial_output"
            output = codec.payload_from_proto(request.partial_output, field)
            size = payload_size(output)
            if size > self._limits.payload:
                raise await self.fail_oversized(job_id, token, PARTIAL_OUTPUT_TOO_LARGE, field, size)
            return await self._work.progress(job_id, token, EventKind.PARTIAL_OUTPUT, {}, output)
        raise InvalidArgument("set progress or partial_output", [FieldViolation(f"{path}.update", "required")])


@dataclass(eq=False)
class _Session:
    """One Work stream: the transport of a remote worker, and the consumer of its Lane
    (which claims, keeps the leases, stops and settles; see jobsvc.app.dispatch)."""

    worker: Worker
    session_id: str
    owner: str
    outbox: asyncio.Queue[ack_service_pb2.WorkResponse | None]
    service: AckService
    lane: Lane = field(init=False)
    # The worker reads batched messages (its hello said accepts_batches).
    batches: bool = False
    last_heard: float = field(default_factory=time.monotonic)
    # The session's claim rounds: stopped when the worker drains or the server shuts down.
    claiming: TaskState = field(init=False)
    # Settlements and progress being written, the latest per job: the worker's messages
    # about one job are written in the order sent, those of different jobs concurrently
    # (so that the store writes many outcomes per statement).
    writing: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def send(self, response: ack_service_pb2.WorkResponse) -> None:
        self.outbox.put_nowait(response)

    def drain(self) -> None:
        """Assign no more jobs; the jobs held carry on and are settled as usual."""
        self.claiming.stopping = True
        self.lane.stop_claiming()

    # -- the lane's consumer (see jobsvc.app.dispatch.Consumer) -----------------------

    async def deliver(self, claim: Claim) -> None:
        """Send the assignment; fail the attempt if it cannot be sent."""
        response = ack_service_pb2.WorkResponse(assignment=self.service.assignment(claim))
        size = response.ByteSize()
        if size > self.service.max_message_bytes:
            await self.lane.settle(claim.job.id, claim.attempt_token, Fail(self.service.undeliverable(claim, size)))
            return
        self.send(response)

    def stop_attempt(self, job_id: str, token: str, reason: str) -> None:
        """Tell the worker to stop this attempt; it is over here at once."""
        cancel = ack_service_pb2.WorkResponse.Cancel(job_id=job_id, attempt_token=token, reason=reason)
        self.send(ack_service_pb2.WorkResponse(cancel=cancel))
        self.lane.release(job_id, token)

    def alive(self) -> bool:
        """Heard from within a lease: a silent worker (hung, or its network gone) loses its leases."""
        return time.monotonic() - self.last_heard <= self.worker.lease_seconds

    async def announce(self) -> None:
        """Keep the worker's versions registered and online."""
        await self.service.work.register(self.worker)


class AckService(ack_service_pb2_grpc.AckServiceServicer):
    """Worker sessions and the unary worker API."""

    def __init__(self, work: RemoteWork, limits: PayloadLimits, metrics: Metrics) -> None:
        self.work = work
        settler = work.settler.logging_to(log)
        # The unary API answers UNAVAILABLE at once (its caller retries); a Work stream's
        # outcomes are kept through an outage and answered once written (OutcomeKeeping).
        self._settler = settler.without_keeping()
        self._settle = Settlements(work, self._settler, limits)
        self._settle_stream = Settlements(work, settler, limits)
        self._metrics = metrics
        self._limits = limits
        self._sessions: set[_Session] = set()

    @property
    def session_count(self) -> int:
        """Connected worker sessions."""
        return len(self._sessions)

    @property
    def max_message_bytes(self) -> int:
        """The largest message a worker can be sent."""
        return self._limits.max_message_bytes

    def end_sessions(self) -> None:
        """Shutdown: end every Work stream (status OK) so that each worker opens its next
        session on another replica; its running jobs carry on and are settled there."""
        for session in self._sessions:
            session.drain()
            session.outbox.put_nowait(None)

    # -- the session stream ------------------------------------------------------------

    async def Work(
        self,
        request_iterator: AsyncIterator[Any],
        context: Context,
    ) -> AsyncIterator[ack_service_pb2.WorkResponse]:
        """See the proto: hello first, then assignments and settlements."""
        try:
            session = await self._open(request_iterator)
        except JobsvcError as exc:
            await abort(context, status_for(exc))
        except Exception:  # a bug: INTERNAL like the other RPCs (grpc would answer UNKNOWN)
            log.exception("unexpected error opening a worker session")
            await abort(context, internal_status("AckService.Work"))
        self._sessions.add(session)
        backoff = Backoff()
        keeping = TaskState(f"worker session {session.owner} lease keeper", critical=False)
        with self.work.due_signal() as due:
            session.lane.due = due
            tasks = [
                asyncio.create_task(self._read(session, request_iterator), name=f"jobsvc-work-read-{session.owner}"),
                asyncio.create_task(
                    run_rounds(session.claiming, session.lane.claim_round, backoff),
                    name=f"jobsvc-work-assign-{session.owner}",
                ),
                asyncio.create_task(
                    run_rounds(keeping, session.lane.lease_round, backoff), name=f"jobsvc-work-lease-{session.owner}"
                ),
            ]
            try:
                budget = self._limits.max_message_bytes
                while (response := await session.outbox.get()) is not None:
                    if not session.batches:
                        yield response
                        continue
                    # What is ready goes now, consecutive assignments (and outcomes) as one message.
                    ready, ended = frames.ready(session.outbox, response)
                    for message in frames.batched_responses(ready, budget):
                        yield message
                    if ended:
                        break
            finally:
                self._sessions.discard(session)
                self.work.session_closed(session.lane)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                # The worker's last settlements are written (bounded: the database may be gone).
                writing = list(session.writing.values())
                if writing:
                    _, late = await asyncio.wait(writing, timeout=WRITES_GRACE)
                    for task in late:
                        task.cancel()
                with contextlib.suppress(JobsvcError):
                    await self.work.release_leases(session.lane)
                with contextlib.suppress(JobsvcError):
                    await self.work.directory.closed(session.session_id)
                log.info("worker session %s ended holding %d job(s)", session.owner, len(session.lane.held))

    async def _open(self, request_iterator: AsyncIterator[Any]) -> _Session:
        first = await anext(aiter(request_iterator), None)
        if isinstance(first, MalformedRequest):
            raise first.exception()
        if first is None or first.WhichOneof("kind") != "hello":
            raise InvalidArgument(
                "the first message of a Work stream must be hello",
                [FieldViolation("hello", "required first")],
                reason="HELLO_REQUIRED",
            )
        worker = codec.worker_from_proto(first.hello, "hello", self.work.config.lease_seconds)
        await self.work.register(worker)
        session_id = uuid.uuid4().hex[:12]
        session = _Session(
            worker,
            session_id,
            f"worker:{worker.worker_id}:{session_id}",
            asyncio.Queue(),
            self,
            batches=first.hello.accepts_batches,
        )
        session.lane = self.work.session_lane(worker, session.owner, session)
        session.claiming = TaskState(f"worker session {session.owner} claims", critical=False)
        with contextlib.suppress(JobsvcError):  # unlisted, the session still works
            await self.work.directory.opened(session_id, worker, session.lane)
        welcome = ack_service_pb2.WorkResponse.Welcome(session_id=session_id)
        welcome.lease_duration.FromNanoseconds(int(worker.lease_seconds * 1e9))
        welcome.heartbeat_interval.FromNanoseconds(int(worker.lease_seconds / 3 * 1e9))
        welcome.max_payload_bytes = self._limits.payload
        welcome.accepts_batches = True
        welcome.max_message_bytes = self._limits.max_message_bytes
        session.send(ack_service_pb2.WorkResponse(welcome=welcome))
        log.info("worker session %s serves %s", session.owner, ", ".join(worker.keys))
        return session

    async def _read(self, session: _Session, request_iterator: AsyncIterator[Any]) -> None:
        try:
            async for request in request_iterator:
                session.last_heard = time.monotonic()
                try:
                    await self._handle(session, request)
                except JobsvcError as exc:  # e.g. the database is down: the worker retries
                    log.warning("worker session %s: %s", session.owner, exc)
        except (grpc.aio.AioRpcError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("worker session %s failed", session.owner)
        finally:
            # The worker hung up: claim nothing more for it (a job claimed now would wait out
            # its lease unrun), and end the response stream too.
            session.drain()
            session.outbox.put_nowait(None)

    async def _handle(self, session: _Session, request: Any) -> None:
        if isinstance(request, OversizedRequest):
            message = f"message of {request.size} bytes is over the limit of {request.limit} (--max-message-bytes)"
            session.send(_settled("", "", code_pb2.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED", message))
            return
        if isinstance(request, MalformedRequest):
            error = request.exception()
            session.send(_settled("", "", code_pb2.INVALID_ARGUMENT, request.reason, error.message))
            return
        kind = request.WhichOneof("kind")
        if kind == "drain":
            session.drain()
        elif kind == "heartbeat":
            await self._heartbeat(session, request.heartbeat)
        elif kind in ("ack", "nack", "reject", "progress", "park", "spawn", "children"):
            self._write_in_order(session, kind, getattr(request, kind))
        elif kind == "batch":
            for item in request.batch.items:
                item_kind = item.WhichOneof("kind")
                if item_kind is None:
                    message = "a batch item must set ack, nack, reject or progress"
                    session.send(_settled("", "", code_pb2.INVALID_ARGUMENT, "EMPTY_BATCH_ITEM", message))
                else:
                    self._write_in_order(session, item_kind, getattr(item, item_kind))
        elif kind == "hello":
            session.send(_settled("", "", code_pb2.INVALID_ARGUMENT, "HELLO_TWICE", "hello is sent once per session"))

    def _write_in_order(self, session: _Session, kind: str, message: Any) -> None:
        """Write a settlement or progress report after the worker's earlier ones about the same job."""
        job_id = message.job_id
        task = asyncio.create_task(
            self._write_after(session.writing.get(job_id), session, kind, message), name=f"jobsvc-work-{kind}"
        )
        session.writing[job_id] = task

        def done(_: asyncio.Task[None]) -> None:
            if session.writing.get(job_id) is task:
                del session.writing[job_id]

        task.add_done_callback(done)

    async def _write_after(
        self, previous: asyncio.Task[None] | None, session: _Session, kind: str, message: Any
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            await self._settle_on_stream(session, kind, message)
        except JobsvcError as exc:  # e.g. the database is down: the worker retries
            log.warning("worker session %s: %s", session.owner, exc)
        except Exception:
            log.exception("worker session %s: writing a %s failed", session.owner, kind)

    async def _settle_on_stream(self, session: _Session, kind: str, message: Any) -> None:
        if kind == "spawn":
            session.send(ack_service_pb2.WorkResponse(spawned=await self._settle.spawn(message, kind)))
            return
        if kind == "children":
            try:
                session.send(ack_service_pb2.WorkResponse(children=await self._settle.children(message, kind)))
            except JobsvcError as exc:
                answer = children_pb2.ChildrenResponse(request_id=message.request_id, code=status_for(exc).code)
                answer.reason, answer.message = exc.reason, exc.message
                session.send(ack_service_pb2.WorkResponse(children=answer))
            return
        if kind == "progress":  # answered only when refused
            try:
                await self._settle_stream.progress(message, kind)
            except JobsvcError as exc:
                status = status_for(exc)
                session.send(_settled(message.job_id, message.attempt_token, status.code, exc.reason, exc.message))
                if exc.reason in _TOO_LARGE_REASONS:
                    # The attempt has failed: the worker stops the handler instead of settling it.
                    session.lane.stop(message.job_id, message.attempt_token, exc.message)
            return
        job_id, token = message.job_id, message.attempt_token
        with session.lane.settling_block(job_id, token) as ending:
            try:
                if kind == "ack":
                    await self._settle_stream.ack(message, kind)
                elif kind == "park":
                    await self._settle_stream.park(message, kind)
                else:
                    await self._settle_stream.nack(message, kind, reject=kind == "reject")
                session.send(_settled(job_id, token, code_pb2.OK, "", ""))
            except (FailedPrecondition, NotFound) as exc:  # stale: the attempt is over all the same
                session.send(_settled(job_id, token, status_for(exc).code, exc.reason, exc.message))
            except JobsvcError as exc:
                # Over the size limit: the attempt failed (settled). Otherwise not settled
                # (database down, bad request): the worker may retry.
                ending.over = exc.reason in _TOO_LARGE_REASONS
                session.send(_settled(job_id, token, status_for(exc).code, exc.reason, exc.message))

    async def _heartbeat(self, session: _Session, request: ack_service_pb2.HeartbeatRequest) -> None:
        await session.lane.heartbeat([(lease.job_id, lease.attempt_token) for lease in request.leases])

    # -- unary API ---------------------------------------------------------------------

    @unary
    async def Lease(
        self,
        request: ack_service_pb2.LeaseRequest,
        context: Context,
    ) -> ack_service_pb2.LeaseResponse:
        worker = codec.worker_from_proto(request.worker, "worker", self.work.config.lease_seconds)
        if not 0 <= request.max_jobs <= 100:
            raise InvalidArgument("max_jobs must be 1..100", [FieldViolation("max_jobs", "1..100")])
        wait = min(request.wait.ToTimedelta().total_seconds(), MAX_LEASE_WAIT) if request.HasField("wait") else 0
        await self.work.register(worker)
        owner = f"worker:{worker.worker_id}"
        deadline = time.monotonic() + wait
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            claims = await self.work.lease(worker, owner, request.max_jobs or 1, remaining)
            assignments = await self._fitting(claims)
            if assignments or not claims or time.monotonic() >= deadline:
                return ack_service_pb2.LeaseResponse(assignments=assignments)
            # None of them could be sent: try the next ones at once.

    def assignment(self, claim: Claim) -> ack_service_pb2.Assignment:
        """The message that hands claim to a worker."""
        return codec.assignment_to_proto(claim, self._limits.error_budget)

    async def _fitting(self, claims: list[Claim]) -> list[ack_service_pb2.Assignment]:
        """Assignments of the claims that fit in one LeaseResponse together; the others are
        given back to the queue (a later Lease takes them), or, when one alone cannot be
        sent, failed."""
        budget = self._limits.max_message_bytes
        fitting: list[ack_service_pb2.Assignment] = []
        used = 0
        given_back = 0
        for claim in claims:
            assignment = self.assignment(claim)
            size = assignment.ByteSize()
            cost = field_size(size)  # as one entry of LeaseResponse.assignments
            if cost > budget:
                self._metrics.attempt_started(claim.job.handler, claim.job.version)
                await self._settler.fail(claim.job.id, claim.attempt_token, self.undeliverable(claim, size))
            elif used + cost > budget:
                # Not a failed attempt, and not a delivery: the worker never sees it.
                reason = "did not fit in the Lease response"
                given_back += await self._settler.requeue(claim.job.id, claim.attempt_token, reason)
            else:
                self._metrics.attempt_started(claim.job.handler, claim.job.version)
                fitting.append(assignment)
                used += cost
        if given_back:
            self.work.jobs_due()
        return fitting

    def undeliverable(self, claim: Claim, size: int) -> JobError:
        """The error that fails an attempt whose assignment is over the message limit: no
        worker can receive it (a job stored before the payload limits, which keep new
        inputs smaller)."""
        limit = self._limits.max_message_bytes
        log.warning("job %s: not assigned, its input is too large to send (%d bytes)", claim.job.id, size)
        return JobError(
            INPUT_TOO_LARGE,
            f"the job's assignment is {size} bytes, over the limit of {limit} bytes (server option "
            "--max-message-bytes): no worker can receive its input",
            non_retryable=True,
        )

    @unary
    async def Heartbeat(
        self,
        request: ack_service_pb2.HeartbeatRequest,
        context: Context,
    ) -> ack_service_pb2.HeartbeatResponse:
        refs = [
            codec.lease_ref_from_request(lease.job_id, lease.attempt_token, f"leases[{i}]")
            for i, lease in enumerate(request.leases)
        ]
        held = await self.work.heartbeat(refs, self.work.config.lease_seconds)
        response = ack_service_pb2.HeartbeatResponse()
        for job_id, _ in refs:
            status = response.leases.add(job_id=job_id, held=job_id in held)
            if job_id in held:
                status.cancel_requested = held[job_id][0]
                status.lease_deadline.CopyFrom(codec.timestamp_to_proto(held[job_id][1]))
        return response

    @unary
    async def ReportProgress(
        self,
        request: ack_service_pb2.ReportProgressRequest,
        context: Context,
    ) -> ack_service_pb2.ReportProgressResponse:
        return ack_service_pb2.ReportProgressResponse(sequence=await self._settle.progress(request, "request"))

    @unary
    async def Ack(
        self,
        request: ack_service_pb2.AckRequest,
        context: Context,
    ) -> ack_service_pb2.AckResponse:
        state = await self._settle.ack(request, "request")
        return ack_service_pb2.AckResponse(state=codec.state_to_proto(state))

    @unary
    async def Nack(
        self,
        request: ack_service_pb2.NackRequest,
        context: Context,
    ) -> ack_service_pb2.NackResponse:
        state, next_run_at = await self._settle.nack(request, "request")
        response = ack_service_pb2.NackResponse(state=codec.state_to_proto(state))
        if next_run_at is not None:
            response.next_attempt_time.CopyFrom(codec.timestamp_to_proto(next_run_at))
        return response

    @unary
    async def Reject(
        self,
        request: ack_service_pb2.RejectRequest,
        context: Context,
    ) -> ack_service_pb2.RejectResponse:
        state, _ = await self._settle.nack(request, "request", reject=True)  # type: ignore[arg-type]
        return ack_service_pb2.RejectResponse(state=codec.state_to_proto(state))


def _settled(job_id: str, token: str, code: int, reason: str, message: str) -> ack_service_pb2.WorkResponse:
    return ack_service_pb2.WorkResponse(
        settled=ack_service_pb2.WorkResponse.Settled(
            job_id=job_id, attempt_token=token, code=code, reason=reason, message=message
        )
    )
