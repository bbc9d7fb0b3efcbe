"""AckService: remote workers, in any language, lease jobs and settle them.

A worker session (the Work stream) is the worker's liveness: the session extends
the leases of its jobs while the worker talks, hands out jobs up to the worker's
free capacity, and forwards cancellations. Settlements are fenced by the attempt
token, so a late or duplicated ack of an attempt that was rescued changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from google.rpc import code_pb2

from jobsvc import codec
from jobsvc.api.status import MalformedRequest, OversizedRequest, abort, internal_status, status_for, unary
from jobsvc.app.jobs import JobsApp
from jobsvc.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    JobsvcError,
    NotFound,
    ResourceExhausted,
)
from jobsvc.domain.jobs import Claim, EventKind, JobError, JobState, Transition
from jobsvc.domain.limits import (
    INPUT_TOO_LARGE,
    PARTIAL_OUTPUT_TOO_LARGE,
    RESULT_TOO_LARGE,
    field_size,
    payload_size,
    progress_message,
)
from jobsvc.domain.workers import Worker
from jobsvc.observability.logs import job_fields, log_transition
from jobsvc.store.port import Notifications
from jobsvc.v1 import ack_service_pb2, ack_service_pb2_grpc

log = logging.getLogger("jobsvc.ack")

Context = grpc.aio.ServicerContext[Any, Any]
MAX_LEASE_WAIT = 30.0
# A session remembers at least this many attempts it ended (see _Session.ended).
ENDED_REMEMBERED = 256
# A payload over the limit fails its attempt: (what it is, ErrorInfo reason) by error type.
_TOO_LARGE = {
    RESULT_TOO_LARGE: ("result", "RESULT_TOO_LARGE"),
    PARTIAL_OUTPUT_TOO_LARGE: ("partial output", "PARTIAL_OUTPUT_TOO_LARGE"),
}
_TOO_LARGE_REASONS = frozenset(reason for _, reason in _TOO_LARGE.values())


@dataclass(frozen=True)
class AckConfig:
    """Timings of worker sessions."""

    lease_seconds: float = 30.0
    # After a session ends, its leases run out after this long unless the worker comes back.
    reconnect_grace: float = 5.0
    # A session claims when told jobs are due (NOTIFY, or a timer for delayed jobs; after a
    # lost LISTEN connection every session is woken). This poll is only a safety net, and
    # each idle session costs a query per interval: 100 idle workers, 3 queries/s.
    poll_interval: float = 30.0


class Settlements:
    """Ack, nack, reject and progress by attempt token: shared by the stream and the unary API."""

    def __init__(self, app: JobsApp) -> None:
        self._app = app
        self._store = app.store
        self._metrics = app.metrics
        self._limits = app.limits

    def record(self, change: Transition, error_type: str = "") -> None:
        """Count and log a transition a settlement made."""
        self._metrics.transition(change)
        with job_fields(change.job_id, change.handler, change.version, change.attempt):
            log_transition(log, change, error_type)

    async def _refused(self, job_id: str) -> JobsvcError:
        job = await self._store.job_get(job_id)
        if job is None:
            return NotFound(
                f"job {job_id} does not exist", reason="JOB_NOT_FOUND", resource_type="job", resource_name=job_id
            )
        return FailedPrecondition(
            f"attempt token is not the current attempt of job {job_id} (now {job.state.value}, "
            f"attempt {job.attempt}); the attempt was rescued, cancelled or already settled",
            reason="STALE_ATTEMPT",
            metadata={"job_id": job_id, "state": job.state.value, "attempt": str(job.attempt)},
        )

    async def ack(self, request: ack_service_pb2.AckRequest, path: str) -> JobState:
        job_id, token = codec.lease_ref_from_request(request.job_id, request.attempt_token, path)
        result = codec.payload_from_proto(request.result, f"{path}.result")
        size = payload_size(result)
        if size > self._limits.payload:
            # Stored, it could never be read back: the attempt fails instead (the same
            # handler would return the same bytes again, so it is not retried).
            raise await self.fail_oversized(job_id, token, RESULT_TOO_LARGE, f"{path}.result", size)
        change = await self._store.job_finish(job_id, token, JobState.SUCCEEDED, result)
        if change is None:
            raise await self._refused(job_id)
        self.record(change)
        return JobState.SUCCEEDED

    async def fail_oversized(self, job_id: str, token: str, error_type: str, field: str, size: int) -> JobsvcError:
        """Fail an attempt non-retryably for a payload over the limit; the error the request
        is answered with (STALE_ATTEMPT when the attempt was no longer current)."""
        limit = self._limits.payload
        what, reason = _TOO_LARGE[error_type]
        message = f"the {what} is {size} bytes, over the limit of {limit} bytes (server option --max-payload-bytes)"
        change = await self._store.job_fail_attempt(
            job_id, token, JobError(error_type, message, non_retryable=True), None
        )
        if change is None:
            return await self._refused(job_id)
        self.record(change, error_type)
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
        change = await self._store.job_fail_attempt(job_id, token, error, delay)
        if change is None:
            raise await self._refused(job_id)
        self.record(change, error.type)
        if change.next_run_at is not None:
            self._app.jobs_due(change.next_run_at)
        return change.state, change.next_run_at

    async def progress(self, request: ack_service_pb2.ReportProgressRequest, path: str) -> int:
        job_id, token = codec.lease_ref_from_request(request.job_id, request.attempt_token, path)
        update = request.WhichOneof("update")
        if update == "progress":
            percent = min(100.0, max(0.0, request.progress.percent))
            message = progress_message(request.progress.message)
            seq = await self._store.job_event_append(
                job_id, token, EventKind.PROGRESS, {"percent": percent, "message": message}
            )
        elif update == "partial_output":
            field = f"{path}.partial_output"
            output = codec.payload_from_proto(request.partial_output, field)
            size = payload_size(output)
            if size > self._limits.payload:
                raise await self.fail_oversized(job_id, token, PARTIAL_OUTPUT_TOO_LARGE, field, size)
            seq = await self._store.job_event_append(job_id, token, EventKind.PARTIAL_OUTPUT, {}, output)
        else:
            raise InvalidArgument("set progress or partial_output", [FieldViolation(f"{path}.update", "required")])
        if seq is None:
            raise await self._refused(job_id)
        return seq


@dataclass(eq=False)
class _Session:
    """One Work stream.

    The lease keeper, the worker's heartbeats and cancellations run beside settlements,
    and each of them awaits the database: an attempt the worker settles meanwhile is
    over, not lost. So they act only on attempts still held after their await, never on
    one whose settlement is in flight (`settling`), and a heartbeat naming an attempt
    this session already ended (the worker sent it before it heard) is not answered.
    """

    worker: Worker
    owner: str
    outbox: asyncio.Queue[ack_service_pb2.WorkResponse | None]
    # job id -> attempt token of each attempt the worker runs for this session.
    held: dict[str, str] = field(default_factory=dict)
    # Tokens whose ack, nack or reject is being written (it may have committed already).
    settling: set[str] = field(default_factory=set)
    # Tokens of attempts this session ended (settled, or told to stop), the most recent last.
    ended: OrderedDict[str, None] = field(default_factory=OrderedDict)
    draining: bool = False
    last_heard: float = field(default_factory=time.monotonic)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, response: ack_service_pb2.WorkResponse) -> None:
        self.outbox.put_nowait(response)

    def cancel(self, job_id: str, token: str, reason: str) -> None:
        """Tell the worker to stop this attempt; forget it if it is the one held."""
        cancel = ack_service_pb2.WorkResponse.Cancel(job_id=job_id, attempt_token=token, reason=reason)
        self.send(ack_service_pb2.WorkResponse(cancel=cancel))
        self.release(job_id, token, over=True)

    def release(self, job_id: str, token: str, *, over: bool) -> None:
        """Stop holding this attempt (if it is the one held); `over`: it ended here, for
        good (settled, refused as stale, or told to stop), so remember its token."""
        if self.held.get(job_id) == token:
            del self.held[job_id]
            self.wakeup.set()
        if over:
            self.ended[token] = None
            # Enough for the settlements of the heartbeats in flight, whatever the worker's rate.
            while len(self.ended) > max(ENDED_REMEMBERED, 4 * self.worker.concurrency):
                self.ended.popitem(last=False)

    def ended_here(self, token: str) -> bool:
        """Whether this session settled or stopped the attempt, or is settling it now."""
        return token in self.settling or token in self.ended

    def still_held(self, job_id: str, token: str) -> bool:
        """Whether the attempt is held and not being settled (checked after an await)."""
        return self.held.get(job_id) == token and token not in self.settling

    def hold(self, job_id: str, token: str) -> None:
        """Record an attempt the worker runs. An older attempt of the same job (rescued
        while this worker still ran it) is stopped, not forgotten."""
        previous = self.held.get(job_id)
        if previous is not None and previous != token:
            self.cancel(job_id, previous, "rescued: a newer attempt of the job was assigned")
        self.held[job_id] = token


class AckService(ack_service_pb2_grpc.AckServiceServicer):
    """Worker sessions and the unary worker API."""

    def __init__(self, app: JobsApp, listener: Notifications, config: AckConfig | None = None) -> None:
        self._app = app
        self._store = app.store
        self._listener = listener
        self.config = config or AckConfig()
        self._settle = Settlements(app)
        self._metrics = app.metrics
        self._limits = app.limits
        self._sessions: set[_Session] = set()
        self._registered: dict[tuple[str, ...], float] = {}
        listener.on_cancel(self._on_cancel_request)

    @property
    def session_count(self) -> int:
        """Connected worker sessions."""
        return len(self._sessions)

    def end_sessions(self) -> None:
        """Shutdown: end every Work stream (status OK) so that each worker opens its next
        session on another replica; its running jobs carry on and are settled there."""
        for session in self._sessions:
            session.draining = True
            session.wakeup.set()
            session.outbox.put_nowait(None)

    def _on_cancel_request(self, job_id: str) -> None:
        for session in self._sessions:
            token = session.held.get(job_id)
            if token is not None:
                asyncio.get_running_loop().create_task(self._cancel_running(session, job_id, token))

    async def _cancel_running(self, session: _Session, job_id: str, token: str) -> None:
        # The session writes the terminal state itself, so a worker that never answers
        # cannot leave the job running; its late ack is then refused.
        try:
            change = await self._store.job_finish(job_id, token, JobState.CANCELLED)
        except JobsvcError:
            change = None  # not written: the worker is still told to stop
        else:
            if change is None and session.ended_here(token):
                return  # the worker's settlement came first: the attempt is over, not cancelled
        if change is not None:
            self._settle.record(change)
        session.cancel(job_id, token, "cancelled")

    async def _register(self, worker: Worker) -> None:
        # Refresh the registry (and "online") at most every 10 s per set of versions served,
        # however many workers serve it: 100 idle workers of one deployment cost one upsert.
        served = tuple(worker.keys)
        if time.monotonic() - self._registered.get(served, 0.0) > 10:
            await self._store.handler_register(worker.handlers)
            self._registered[served] = time.monotonic()

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
        tasks = [
            asyncio.create_task(self._read(session, request_iterator), name=f"jobsvc-work-read-{session.owner}"),
            asyncio.create_task(self._assign(session), name=f"jobsvc-work-assign-{session.owner}"),
            asyncio.create_task(self._keep_leases(session), name=f"jobsvc-work-lease-{session.owner}"),
        ]
        try:
            while (response := await session.outbox.get()) is not None:
                yield response
        finally:
            self._sessions.discard(session)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(JobsvcError):
                await self._store.job_lease_shorten(session.owner, self.config.reconnect_grace)
            log.info("worker session %s ended holding %d job(s)", session.owner, len(session.held))

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
        worker = codec.worker_from_proto(first.hello, "hello", self.config.lease_seconds)
        await self._register(worker)
        session_id = uuid.uuid4().hex[:12]
        session = _Session(worker, f"worker:{worker.worker_id}:{session_id}", asyncio.Queue())
        welcome = ack_service_pb2.WorkResponse.Welcome(session_id=session_id)
        welcome.lease_duration.FromNanoseconds(int(worker.lease_seconds * 1e9))
        welcome.heartbeat_interval.FromNanoseconds(int(worker.lease_seconds / 3 * 1e9))
        welcome.max_payload_bytes = self._limits.payload
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
            session.outbox.put_nowait(None)  # the worker hung up: end the response stream too

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
            session.draining = True
            session.wakeup.set()
        elif kind == "heartbeat":
            await self._heartbeat(session, request.heartbeat)
        elif kind in ("ack", "nack", "reject", "progress"):
            await self._settle_on_stream(session, kind, getattr(request, kind))
        elif kind == "hello":
            session.send(_settled("", "", code_pb2.INVALID_ARGUMENT, "HELLO_TWICE", "hello is sent once per session"))

    async def _settle_on_stream(self, session: _Session, kind: str, message: Any) -> None:
        if kind == "progress":  # answered only when refused
            try:
                await self._settle.progress(message, kind)
            except JobsvcError as exc:
                status = status_for(exc)
                session.send(_settled(message.job_id, message.attempt_token, status.code, exc.reason, exc.message))
                if exc.reason in _TOO_LARGE_REASONS:
                    # The attempt has failed: the worker stops the handler instead of settling it.
                    session.cancel(message.job_id, message.attempt_token, exc.message)
            return
        job_id, token = message.job_id, message.attempt_token
        session.settling.add(token)
        over = True
        try:
            if kind == "ack":
                await self._settle.ack(message, kind)
            else:
                await self._settle.nack(message, kind, reject=kind == "reject")
            session.send(_settled(job_id, token, code_pb2.OK, "", ""))
        except (FailedPrecondition, NotFound) as exc:  # stale: the attempt is over all the same
            session.send(_settled(job_id, token, status_for(exc).code, exc.reason, exc.message))
        except JobsvcError as exc:
            # Over the size limit: the attempt failed (settled). Otherwise not settled
            # (database down, bad request): the worker may retry.
            over = exc.reason in _TOO_LARGE_REASONS
            session.send(_settled(job_id, token, status_for(exc).code, exc.reason, exc.message))
        finally:
            session.settling.discard(token)
            session.release(job_id, token, over=over)

    async def _heartbeat(self, session: _Session, request: ack_service_pb2.HeartbeatRequest) -> None:
        # An attempt this session already ended may still be named: the worker listed it
        # before it heard the answer to its ack. It is over, neither held nor lost.
        refs = [(lease.job_id, lease.attempt_token) for lease in request.leases]
        refs = [(j, t) for j, t in refs if not session.ended_here(t)]
        valid = [(j, t) for j, t in refs if _is_uuid(j) and _is_uuid(t)]
        held = await self._store.job_lease_extend_tokens(valid, session.worker.lease_seconds)
        for job_id, token in refs:
            if session.ended_here(token):
                continue  # stopped by a cancellation while the extension ran
            if job_id in held and session.held.get(job_id) in (None, token):
                session.held[job_id] = token  # a reconnected worker resumes its leases
            else:
                # Only this (stale) attempt is stopped; a newer attempt of the job stays.
                session.cancel(job_id, token, "lease lost")

    async def _assign(self, session: _Session) -> None:
        with self._listener.due_signal() as due:
            session.wakeup = due
            await self._assign_until_draining(session)

    async def _assign_until_draining(self, session: _Session) -> None:
        while not session.draining:
            session.wakeup.clear()
            free = session.worker.concurrency - len(session.held)
            if free > 0:
                want = min(free, 32)
                try:
                    claims = await self._store.job_claim(
                        session.worker.keys,
                        session.owner,
                        want,
                        session.worker.lease_seconds,
                        limited=session.worker.limited,
                    )
                except Exception as exc:  # any failure: the session carries on (see jobsvc.supervisor)
                    _log_failure(exc, "assigning to %s failed", session.owner)
                    await asyncio.sleep(1)
                    continue
                now = datetime.now(UTC)
                for claim in claims:
                    if claim.lease_ran_out(now):  # the rescuer's now: never sent
                        log.warning("job %s: claimed, but the answer came after its lease", claim.job.id)
                        continue
                    self._metrics.attempt_started(claim.job.handler, claim.job.version)
                    response = ack_service_pb2.WorkResponse(assignment=self._assignment(claim))
                    size = response.ByteSize()
                    if size > self._limits.max_message_bytes:
                        await self._fail_undeliverable(claim, size)
                        continue
                    session.hold(claim.job.id, claim.attempt_token)
                    session.send(response)
                if len(claims) == want:
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.wakeup.wait(), self.config.poll_interval)

    async def _keep_leases(self, session: _Session) -> None:
        """Extend the session's leases while the worker is heard from; a silent worker
        (hung, or its network gone) loses them when they run out."""
        interval = session.worker.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() - session.last_heard > session.worker.lease_seconds:
                continue
            leases = list(session.held.items())
            try:
                await self._register(session.worker)
                # By token, not by owner: a worker that reconnected holds leases of its old session.
                held = await self._store.job_lease_extend_tokens(leases, session.worker.lease_seconds)
            except Exception as exc:  # any failure: the session carries on, the next round retries
                _log_failure(exc, "lease extension for %s failed", session.owner)
                continue
            for job_id, token in leases:
                # Settled while the extension ran, or being settled (its write may have
                # committed before the extension looked): over, not lost.
                if not session.still_held(job_id, token):
                    continue
                if job_id not in held:
                    session.cancel(job_id, token, "lease lost")
                elif held[job_id][0]:  # a cancel whose notification was missed
                    await self._cancel_running(session, job_id, token)

    # -- unary API ---------------------------------------------------------------------

    @unary
    async def Lease(
        self,
        request: ack_service_pb2.LeaseRequest,
        context: Context,
    ) -> ack_service_pb2.LeaseResponse:
        worker = codec.worker_from_proto(request.worker, "worker", self.config.lease_seconds)
        if not 0 <= request.max_jobs <= 100:
            raise InvalidArgument("max_jobs must be 1..100", [FieldViolation("max_jobs", "1..100")])
        wait = min(request.wait.ToTimedelta().total_seconds(), MAX_LEASE_WAIT) if request.HasField("wait") else 0
        await self._register(worker)
        owner = f"worker:{worker.worker_id}"
        deadline = time.monotonic() + wait
        with self._listener.due_signal() as due:
            while True:
                due.clear()
                claims = await self._store.job_claim(
                    worker.keys, owner, request.max_jobs or 1, worker.lease_seconds, limited=worker.limited
                )
                now = datetime.now(UTC)
                claims = [c for c in claims if not c.lease_ran_out(now)]  # late ones are the rescuer's
                remaining = deadline - time.monotonic()
                assignments = await self._fitting(claims)
                if assignments or remaining <= 0:
                    return ack_service_pb2.LeaseResponse(assignments=assignments)
                if claims:
                    continue  # none could be sent: try the next ones at once
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(due.wait(), min(remaining, self.config.poll_interval))

    def _assignment(self, claim: Claim) -> ack_service_pb2.Assignment:
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
            assignment = self._assignment(claim)
            size = assignment.ByteSize()
            cost = field_size(size)  # as one entry of LeaseResponse.assignments
            if cost > budget:
                self._metrics.attempt_started(claim.job.handler, claim.job.version)
                await self._fail_undeliverable(claim, size)
            elif used + cost > budget:
                # Not a failed attempt, and not a delivery: the worker never sees it.
                reason = "did not fit in the Lease response"
                given_back += await self._store.job_requeue(claim.job.id, claim.attempt_token, reason)
            else:
                self._metrics.attempt_started(claim.job.handler, claim.job.version)
                fitting.append(assignment)
                used += cost
        if given_back:
            self._app.jobs_due(None)
        return fitting

    async def _fail_undeliverable(self, claim: Claim, size: int) -> None:
        """Fail an attempt whose assignment is over the message limit: no worker can receive
        it (a job stored before the payload limits, which keep new inputs smaller)."""
        limit = self._limits.max_message_bytes
        error = JobError(
            INPUT_TOO_LARGE,
            f"the job's assignment is {size} bytes, over the limit of {limit} bytes (server option "
            "--max-message-bytes): no worker can receive its input",
            non_retryable=True,
        )
        change = await self._store.job_fail_attempt(claim.job.id, claim.attempt_token, error, None)
        if change is not None:
            self._settle.record(change, error.type)
        log.warning("job %s: not assigned, its input is too large to send (%d bytes)", claim.job.id, size)

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
        held = await self._store.job_lease_extend_tokens(refs, self.config.lease_seconds)
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


def _log_failure(exc: Exception, what: str, owner: str) -> None:
    """One line for expected trouble (the database), a traceback for a bug."""
    if isinstance(exc, JobsvcError):
        log.warning(what + ": %s", owner, exc)
    else:
        log.error(what, owner, exc_info=exc)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
