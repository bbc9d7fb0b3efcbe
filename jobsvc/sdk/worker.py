"""A remote Python worker: runs the same handler modules as `jobsvc serve`, on the
AckService of any replica (`jobsvc worker --server HOST:PORT --handlers mypkg.jobs`).

One Work stream per session. Jobs keep running across a dropped stream: the worker
reconnects, re-announces its leases in a heartbeat, and sends again every
settlement the server has not confirmed (settlements are idempotent per attempt
token: a duplicate is refused as stale and changes nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.rpc import code_pb2

from jobsvc import codec
from jobsvc.codec import frames
from jobsvc.domain.children import ChildJob, ChildState, Spawn, SpawnRefused
from jobsvc.domain.handlers import HandlerTable, JobContext, load_module
from jobsvc.domain.jobs import JobError, Payload
from jobsvc.domain.limits import PayloadLimits
from jobsvc.handlers.invoke import Invoker, Outcome, with_output_failure
from jobsvc.handlers.payloads import PayloadTooLarge, checked_size, encode_value
from jobsvc.observability.logs import job_fields
from jobsvc.observability.tracing import Tracing, continued_trace
from jobsvc.sdk.client import ClientSecurity, job_spec
from jobsvc.v1 import ack_service_pb2, ack_service_pb2_grpc, children_pb2, job_pb2

log = logging.getLogger("jobsvc.worker")


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker identifies itself and how much it runs."""

    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    concurrency: int = 16
    lease_seconds: float = 30.0
    shutdown_grace: float = 10.0
    reconnect_delay: float = 0.5
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass
class _Running:
    assignment: ack_service_pb2.Assignment
    task: asyncio.Task[None] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    stopped_by_server: bool = False


class _Sink:
    """JobContext events go out on the stream, in order."""

    def __init__(self, worker: RemoteWorker, running: _Running, payload_limit: int | None) -> None:
        self._worker = worker
        self._running = running
        self._loop = asyncio.get_running_loop()
        self._payload_limit = payload_limit
        # A partial output over the server's limit: the attempt fails with it (as in-process).
        self.failure: JobError | None = None

    def _send(self, request: ack_service_pb2.ReportProgressRequest) -> None:
        message = ack_service_pb2.WorkRequest(progress=request)
        self._loop.call_soon_threadsafe(self._worker.outbox.put_nowait, message)

    def progress(self, percent: float, message: str) -> None:
        assignment = self._running.assignment
        self._send(
            ack_service_pb2.ReportProgressRequest(
                job_id=assignment.job.id,
                attempt_token=assignment.attempt_token,
                progress=job_pb2.Progress(percent=percent, message=message),
            )
        )

    def partial_output(self, output: Any) -> None:
        assignment = self._running.assignment
        try:
            payload = checked_size(encode_value(output), self._payload_limit, "partial output")
        except PayloadTooLarge as exc:
            self.failure = exc.job_error(assignment.job.attempt)
            raise
        self._send(
            ack_service_pb2.ReportProgressRequest(
                job_id=assignment.job.id,
                attempt_token=assignment.attempt_token,
                partial_output=codec.payload_to_proto(payload),
            )
        )


class _StreamChildren:
    """jobsvc.domain.children.Durable for one attempt on this worker: spawns and reads
    over the Work stream, each request answered by the response with its request_id (and
    sent again after a reconnect until answered: spawns are idempotent by key)."""

    def __init__(self, worker: RemoteWorker, assignment: ack_service_pb2.Assignment) -> None:
        self._worker = worker
        self._job_id = assignment.job.id
        self._token = assignment.attempt_token

    async def spawn(self, spawn: Spawn) -> ChildJob:
        """Ask the server to spawn the child; SpawnRefused when it will not."""
        payload = codec.payload_to_proto(encode_value(spawn.input))
        spec = job_spec(spawn.handler, payload, version=spawn.version, priority=spawn.priority)
        spec.labels.update(spawn.labels)
        if spawn.retry_policy is not None:
            spec.retry_policy.CopyFrom(codec.retry_policy_to_proto(spawn.retry_policy))
        if spawn.attempt_timeout is not None:
            spec.attempt_timeout.FromTimedelta(timedelta(seconds=spawn.attempt_timeout))
        request = children_pb2.SpawnRequest(
            request_id=str(uuid.uuid4()), job_id=self._job_id, attempt_token=self._token, spawn_key=spawn.key, job=spec
        )
        answer = await self._worker.ask(request.request_id, ack_service_pb2.WorkRequest(spawn=request))
        spawned = answer.spawned
        if spawned.code in (code_pb2.UNAVAILABLE, code_pb2.ABORTED):  # nothing was written: the attempt may retry
            raise RuntimeError(f"spawning {spawn.handler} failed for now: {spawned.message}")
        if spawned.code != 0:
            code = code_pb2.Code.Name(spawned.code) if spawned.code in code_pb2.Code.values() else str(spawned.code)
            raise SpawnRefused(spawned.message, code=code, reason=spawned.reason, field_path=spawned.field)
        return ChildJob(spawned.child_job_id, spawn.key, spawn.handler)

    async def children(self, child_ids: Sequence[str]) -> list[ChildState]:
        """The job's children among child_ids, from the server."""
        return [codec.child_state_from_proto(job) for job in (await self._read(child_ids)).children]

    async def sleeps(self) -> dict[str, datetime]:
        """The job's recorded sleeps, from the server."""
        return {key: ends.ToDatetime(UTC) for key, ends in (await self._read(())).sleeps.items()}

    async def _read(self, child_ids: Sequence[str]) -> children_pb2.ChildrenResponse:
        request = children_pb2.ChildrenRequest(
            request_id=str(uuid.uuid4()), job_id=self._job_id, attempt_token=self._token, child_job_ids=child_ids
        )
        answer = (await self._worker.ask(request.request_id, ack_service_pb2.WorkRequest(children=request))).children
        if answer.code != 0:
            raise RuntimeError(f"reading the children of job {self._job_id} failed: {answer.reason} {answer.message}")
        return answer


class RemoteWorker:
    """Runs a HandlerTable's handlers on jobs assigned by a jobsvc server."""

    def __init__(
        self,
        target: str,
        table: HandlerTable,
        *,
        config: WorkerConfig | None = None,
        resources: Mapping[str, Any] | None = None,
        channel: grpc.aio.Channel | None = None,
        tracer_provider: Any = None,
        security: ClientSecurity | None = None,
    ) -> None:
        self.config = config or WorkerConfig()
        # With a provider, each attempt is a span, child of the submit's (from the assignment).
        self._tracing = Tracing(tracer_provider, "jobsvc.worker") if tracer_provider is not None else None
        security = security or ClientSecurity()
        self._channel = channel or security.channel(target)
        self._metadata = (*security.metadata, *self.config.metadata)
        self._stub = ack_service_pb2_grpc.AckServiceStub(self._channel)
        self._table = table
        self._resources = dict(resources or {})
        self._invoker = Invoker(
            ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="jobsvc-worker"), self._tracing
        )
        self._running: dict[str, _Running] = {}
        # Settlements sent but not confirmed, by job id: sent again after a reconnect.
        self._unconfirmed: dict[tuple[str, str], ack_service_pb2.WorkRequest] = {}
        # Spawn and children requests not answered yet, by request id: sent again after a reconnect.
        self._asking: dict[str, tuple[ack_service_pb2.WorkRequest, asyncio.Future[ack_service_pb2.WorkResponse]]] = {}
        self.outbox: asyncio.Queue[ack_service_pb2.WorkRequest] = asyncio.Queue()
        # Whether this session's server reads batches, and its message limit (from its welcome).
        self._server_batches = False
        self._server_max_message = 0
        self._stopping = asyncio.Event()
        self.sessions = 0
        # Set while a session is established (after the server's welcome).
        self.connected = asyncio.Event()
        self._idle = asyncio.Event()

    async def ask(self, request_id: str, request: ack_service_pb2.WorkRequest) -> ack_service_pb2.WorkResponse:
        """Send a request the server answers by request_id (spawn, children); its answer."""
        answer: asyncio.Future[ack_service_pb2.WorkResponse] = asyncio.get_running_loop().create_future()
        self._asking[request_id] = (request, answer)
        self.outbox.put_nowait(request)
        try:
            return await answer
        finally:
            self._asking.pop(request_id, None)

    def _answered(self, request_id: str, response: ack_service_pb2.WorkResponse) -> None:
        asked = self._asking.get(request_id)
        if asked is not None and not asked[1].done():
            asked[1].set_result(response)

    def hello(self) -> ack_service_pb2.WorkerInfo:
        """What this worker announces."""
        info = ack_service_pb2.WorkerInfo(
            worker_id=self.config.worker_id,
            concurrency=self.config.concurrency,
            handlers=[codec.handler_to_proto(d.spec()) for d in self._table],
            accepts_batches=True,
        )
        info.lease_duration.FromNanoseconds(int(self.config.lease_seconds * 1e9))
        return info

    async def run(self) -> None:
        """Work until stop() is called, reconnecting when a session fails."""
        delay = self.config.reconnect_delay
        while not self._stopping.is_set():
            try:
                await self._session()
                delay = self.config.reconnect_delay
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (
                    grpc.StatusCode.INVALID_ARGUMENT,
                    grpc.StatusCode.PERMISSION_DENIED,
                    grpc.StatusCode.UNAUTHENTICATED,
                ):
                    raise
                log.warning("worker session ended: %s %s; reconnecting in %.1fs", exc.code().name, exc.details(), delay)
            if not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, 10.0)
        await self._drain_running()
        await self._channel.close()

    def stop(self) -> None:
        """Graceful stop: take no new jobs, finish running ones within the grace period."""
        self._stopping.set()
        self.outbox.put_nowait(ack_service_pb2.WorkRequest(drain=ack_service_pb2.WorkRequest.Drain()))

    async def _session(self) -> None:
        # Single messages until this session's server says (in its welcome) that it reads batches.
        self._server_batches = False
        call = self._stub.Work(self._requests(), metadata=self._metadata)
        self.sessions += 1
        closer = asyncio.create_task(self._close_when_idle(call), name="jobsvc-worker-closer")
        try:
            await self._receive(call)
        except asyncio.CancelledError:
            if not self._stopping.is_set():
                raise
        finally:
            closer.cancel()
            self.connected.clear()

    async def _close_when_idle(self, call: Any) -> None:
        """After stop(): end the session once every job is settled (or the grace is over)."""
        await self._stopping.wait()
        self._note_settled()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), self.config.shutdown_grace)
        call.cancel()

    def _note_settled(self) -> None:
        """Track whether anything is still running or waiting for the server's confirmation."""
        if self._running or self._unconfirmed:
            self._idle.clear()
        else:
            self._idle.set()

    async def _receive(self, call: Any) -> None:
        async for response in call:
            kind = response.WhichOneof("kind")
            if kind == "assignment":
                self._start(response.assignment)
            elif kind == "assignments":
                for assignment in response.assignments.items:
                    self._start(assignment)
            elif kind == "cancel":
                self._cancel(response.cancel)
            elif kind == "settled":
                self._settled(response.settled)
            elif kind == "settled_batch":
                for settled in response.settled_batch.items:
                    self._settled(settled)
            elif kind == "spawned":
                self._answered(response.spawned.request_id, response)
            elif kind == "children":
                self._answered(response.children.request_id, response)
            elif kind == "welcome":
                limit = response.welcome.max_payload_bytes
                # The server's payload limit: results and partial outputs over it fail here,
                # before they are sent (0: a server that predates it checks them itself).
                self._invoker.limits = PayloadLimits.for_payload(limit) if limit > 0 else None
                self._server_batches = response.welcome.accepts_batches
                self._server_max_message = response.welcome.max_message_bytes
                self.connected.set()
                log.info("worker %s connected (session %s)", self.config.worker_id, response.welcome.session_id)

    async def _requests(self) -> AsyncIterator[ack_service_pb2.WorkRequest]:
        """The request side of one session: hello, then what is unconfirmed, then the outbox
        (heartbeats are interleaved at a third of the lease)."""
        yield ack_service_pb2.WorkRequest(hello=self.hello())
        if self._running:
            yield self._heartbeat()
        for request in list(self._unconfirmed.values()):
            yield request
        for request, _ in list(self._asking.values()):
            yield request
        if self._stopping.is_set():
            yield ack_service_pb2.WorkRequest(drain=ack_service_pb2.WorkRequest.Drain())
        interval = self.config.lease_seconds / 3
        while True:
            try:
                if self.outbox.empty():  # (wait_for costs a task: only when there is a wait)
                    request = await asyncio.wait_for(self.outbox.get(), interval)
                else:
                    request = self.outbox.get_nowait()
            except TimeoutError:
                yield self._heartbeat()
                continue
            if not (self._server_batches and self._server_max_message > 0):
                yield request
                continue
            # What is ready goes now, consecutive settlements as one message.
            ready, _ = frames.ready(self.outbox, request)
            for message in frames.batched_requests(ready, self._server_max_message):
                yield message

    def _heartbeat(self) -> ack_service_pb2.WorkRequest:
        leases = [
            ack_service_pb2.LeaseRef(job_id=job_id, attempt_token=r.assignment.attempt_token)
            for job_id, r in self._running.items()
        ]
        return ack_service_pb2.WorkRequest(
            heartbeat=ack_service_pb2.HeartbeatRequest(worker_id=self.config.worker_id, leases=leases)
        )

    def _start(self, assignment: ack_service_pb2.Assignment) -> None:
        previous = self._running.get(assignment.job.id)
        if previous is not None:  # an older attempt was rescued while it still ran here
            self._stop(previous, "superseded by a newer attempt")
        running = _Running(assignment)
        self._running[assignment.job.id] = running
        running.task = asyncio.create_task(self._run(running), name=f"jobsvc-worker-job-{assignment.job.id}")

    def _cancel(self, cancel: ack_service_pb2.WorkResponse.Cancel) -> None:
        running = self._running.get(cancel.job_id)
        if running is not None and running.assignment.attempt_token == cancel.attempt_token:
            self._stop(running, cancel.reason)

    def _stop(self, running: _Running, reason: str) -> None:
        job = running.assignment.job
        log.info("job %s (attempt %d) stopped by the server: %s", job.id, job.attempt, reason)
        running.stopped_by_server = True
        running.cancelled.set()
        if running.task is not None:
            running.task.cancel()

    def _settled(self, settled: ack_service_pb2.WorkResponse.Settled) -> None:
        if self._unconfirmed.pop((settled.job_id, settled.attempt_token), None) is not None:
            self._note_settled()
        if settled.code != 0:
            log.warning("settlement of job %s refused: %s %s", settled.job_id, settled.reason, settled.message)

    async def _run(self, running: _Running) -> None:
        job = running.assignment.job
        trace_context = dict(running.assignment.trace_context)
        with job_fields(job.id, job.handler, job.version, job.attempt):
            if self._tracing is not None:
                await self._run_attempt(running, trace_context)
            else:
                with continued_trace(trace_context):
                    await self._run_attempt(running, None)

    async def _run_attempt(self, running: _Running, trace_context: dict[str, str] | None) -> None:
        job = running.assignment.job
        token = running.assignment.attempt_token
        definition = self._table.get(job.handler, job.version)
        sink = _Sink(self, running, self._invoker.payload_limit)
        ctx = JobContext(
            job_id=job.id,
            handler=job.handler,
            version=job.version,
            attempt=job.attempt,
            labels=dict(job.labels),
            resources=self._resources,
            sink=sink,
            cancelled=running.cancelled,
            durable=_StreamChildren(self, running.assignment),
        )
        settle: ack_service_pb2.WorkRequest | None = None
        try:
            if definition is None:  # the server only assigns versions we announced
                raise RuntimeError(f"not serving {job.handler}@{job.version}")
            # No local timeout: the server ends an attempt at its deadline and the
            # heartbeat then reports the lease lost, which cancels the handler here.
            outcome = await self._invoker.run(definition, ctx, codec.payload_from_proto(job.input), None, trace_context)
            settle = _settlement(job.id, token, with_output_failure(outcome, sink.failure) or outcome)
            self._unconfirmed[(job.id, token)] = settle
            self.outbox.put_nowait(settle)
        except asyncio.CancelledError:
            pass  # stopped by the server (it has settled the job) or by our own shutdown
        finally:
            # Unconfirmed before no longer running: the session never looks idle in between.
            # Only this attempt's entry: a newer attempt of the same job may have replaced it.
            if self._running.get(job.id) is running:
                del self._running[job.id]
            self._note_settled()

    async def _drain_running(self) -> None:
        tasks = [r.task for r in self._running.values() if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=self.config.shutdown_grace)
        for running in self._running.values():
            if running.task is not None:
                running.task.cancel()


def _settlement(job_id: str, token: str, outcome: Outcome) -> ack_service_pb2.WorkRequest:
    if outcome.park is not None and outcome.error is None:  # ctx.wait, ctx.sleep: the job runs again later
        park = children_pb2.ParkRequest(
            job_id=job_id,
            attempt_token=token,
            child_job_ids=outcome.park.children,
            sleep_key=outcome.park.sleep_key or "",
        )
        if outcome.park.until is not None:
            park.until.FromDatetime(outcome.park.until)
        return ack_service_pb2.WorkRequest(park=park)
    if outcome.error is not None:
        error = codec.error_to_proto(outcome.error)
        nack = ack_service_pb2.NackRequest(job_id=job_id, attempt_token=token, error=error)
        if outcome.retry_delay is not None:  # a handler's RetryLater
            nack.retry_delay.FromTimedelta(timedelta(seconds=outcome.retry_delay))
        return ack_service_pb2.WorkRequest(nack=nack)
    result = codec.payload_to_proto(outcome.result or Payload())
    return ack_service_pb2.WorkRequest(
        ack=ack_service_pb2.AckRequest(job_id=job_id, attempt_token=token, result=result)
    )


async def run_worker(
    target: str,
    modules: Sequence[str],
    config: WorkerConfig,
    tracer_provider: Any = None,
    security: ClientSecurity | None = None,
) -> None:
    """`jobsvc worker`: load handler modules, enter their lifespans, work until SIGTERM/SIGINT."""
    loaded = [load_module(name) for name in modules]
    table = HandlerTable([d for m in loaded for d in m.handlers])
    async with contextlib.AsyncExitStack() as stack:
        resources: dict[str, Any] = {}
        for module in loaded:
            if module.lifespan is not None:
                resources.update(await stack.enter_async_context(module.lifespan()) or {})
        worker = RemoteWorker(
            target, table, config=config, resources=resources, tracer_provider=tracer_provider, security=security
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        print(f"jobsvc worker {config.worker_id} serving {', '.join(d.key for d in table)} from {target}", flush=True)
        await worker.run()
        print("jobsvc worker stopped", flush=True)
