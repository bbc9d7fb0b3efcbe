"""The in-process executor: runs the handlers this process serves on the jobs its Lane
(jobsvc.app.dispatch: claims, leases, stops, settlements) hands it, with bounded
concurrency, a task per job, and the job's events written as the handler reports them.

Lifecycle (owned by jobsvc.server): start() -> [claim and heartbeat tasks, run by
the process's Supervisor, which survives any error a round raises] -> stop(grace):
stop claiming, let running jobs finish within the grace period, then cancel the
rest and give them back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jobsvc.app.children import ChildrenApp
from jobsvc.app.dispatch import (
    CANCELLED,
    SHUTDOWN,
    Cancel,
    Fail,
    Lane,
    LaneConfig,
    LocalSlots,
    Requeue,
    Settlement,
    Settler,
    Succeed,
    Suspend,
)
from jobsvc.domain.errors import JobsvcError
from jobsvc.domain.handlers import CancelFlag, HandlerTable, JobContext
from jobsvc.domain.jobs import Claim, EventKind, JobError, Payload
from jobsvc.domain.limits import PayloadLimits
from jobsvc.domain.values import JsonValue
from jobsvc.handlers.invoke import Invoker, Outcome, with_output_failure
from jobsvc.handlers.payloads import PayloadTooLarge, checked_size, encode_value
from jobsvc.observability.logs import job_fields
from jobsvc.observability.metrics import Metrics
from jobsvc.observability.tracing import Tracing
from jobsvc.store.port import JobStore, Notifications
from jobsvc.supervisor import Supervisor

log = logging.getLogger("jobsvc.executor")


@dataclass(frozen=True)
class ExecutorConfig:
    """Tuning knobs; the defaults suit a small service."""

    concurrency: int = 16
    claim_batch: int = 32
    lease_seconds: float = 30.0
    # A lost NOTIFY delays a due job by at most this long.
    poll_interval: float = 5.0


class _EventWriter:
    """Writes a job's progress and partial output in the order the handler reported
    them. Handlers call it from the event loop or from worker threads."""

    MAX_BATCH = 500

    def __init__(
        self, store: JobStore, claim: Claim, loop: asyncio.AbstractEventLoop, payload_limit: int | None = None
    ) -> None:
        self._store = store
        self._claim = claim
        self._loop = loop
        self._payload_limit = payload_limit
        # Set when a partial output was over the limit: the attempt fails with it, even if
        # the handler caught the exception and returned (the output never reached watchers).
        self.failure: JobError | None = None
        self._loop_thread = threading.get_ident()
        # Both made by the first event: most jobs report none, and a queue and a task per job cost.
        self._queue: asyncio.Queue[tuple[EventKind, dict[str, JsonValue], Payload | None] | None] | None = None
        self._task: asyncio.Task[None] | None = None

    def progress(self, percent: float, message: str) -> None:
        self._put((EventKind.PROGRESS, {"percent": percent, "message": message}, None))

    def partial_output(self, output: Any) -> None:
        try:
            payload = checked_size(encode_value(output), self._payload_limit, "partial output")
        except PayloadTooLarge as exc:
            # Raised in the handler (its thread or task), which then normally fails with it.
            self.failure = exc.job_error(self._claim.job.attempt)
            raise
        self._put((EventKind.PARTIAL_OUTPUT, {}, payload))

    def _put(self, item: tuple[EventKind, dict[str, JsonValue], Payload | None] | None) -> None:
        if threading.get_ident() == self._loop_thread:
            self._enqueue(item)
        else:
            self._loop.call_soon_threadsafe(self._enqueue, item)

    def _enqueue(self, item: tuple[EventKind, dict[str, JsonValue], Payload | None] | None) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = self._loop.create_task(self._drain(self._queue), name=f"jobsvc-events-{self._claim.job.id}")
        self._queue.put_nowait(item)

    async def _drain(self, queue: asyncio.Queue[tuple[EventKind, dict[str, JsonValue], Payload | None] | None]) -> None:
        """Write what is queued, as many events per statement as have piled up meanwhile."""
        job_id, token = self._claim.job.id, self._claim.attempt_token
        closing = False
        while not closing:
            batch = []
            item = await queue.get()
            while item is not None:
                batch.append(item)
                if queue.empty() or len(batch) == self.MAX_BATCH:
                    break
                item = queue.get_nowait()
            closing = item is None
            if not batch:
                continue
            try:
                if await self._store.job_event_append_many(job_id, token, batch) is None:
                    log.info("job %s: %d event(s) dropped, attempt no longer current", job_id, len(batch))
            except JobsvcError as exc:
                log.warning("job %s: %d event(s) lost: %s", job_id, len(batch), exc)
            except Exception:  # progress is best effort: never let it cost the job its outcome
                log.exception("job %s: %d event(s) lost", job_id, len(batch))

    async def close(self) -> None:
        """Flush everything reported so far (events from threads arrive before this runs:
        the handler has returned, and call_soon_threadsafe keeps their order)."""
        if self._queue is not None and self._task is not None:
            self._queue.put_nowait(None)
            await self._task


@dataclass
class _Running:
    claim: Claim
    task: asyncio.Task[None] | None = None
    cancelled: CancelFlag = field(default_factory=CancelFlag)
    stop_reason: str | None = None


class Executor:
    """Runs the handlers of one HandlerTable on jobs its Lane claims from the store."""

    def __init__(
        self,
        store: JobStore,
        listener: Notifications,
        table: HandlerTable,
        *,
        owner: str,
        settler: Settler,
        supervisor: Supervisor,
        resources: Mapping[str, Any] | None = None,
        config: ExecutorConfig | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
        limits: PayloadLimits | None = None,
        local: LocalSlots | None = None,
        children: ChildrenApp | None = None,
    ) -> None:
        self._store = store
        # What handlers spawn and read child jobs through (None: ctx.spawn/wait/sleep refused).
        self._children = children
        # Where this executor's lane offers its free slots to Calls submitted here.
        self._local = local
        self._listener = listener
        self._supervisor = supervisor
        self._table = table
        self._resources = dict(resources or {})
        self.config = config or ExecutorConfig()
        lane = LaneConfig(
            owner=owner,
            served=tuple(table.keys),
            capacity=self.config.concurrency,
            lease_seconds=self.config.lease_seconds,
            # Any served version with flow control makes every claim apply the limits.
            limited=any(d.flow for d in table),
            claim_batch=self.config.claim_batch,
            poll_interval=self.config.poll_interval,
        )
        pauses = local.pauses if local is not None else None
        self._lane = Lane(store, settler.logging_to(log), metrics or Metrics(), self, lane, pauses=pauses)
        # Attempts running in this process, by attempt token (a rescued attempt of a job
        # may still be stopping when its next attempt starts here).
        self._running: dict[str, _Running] = {}
        self._started = False
        # When the served versions were last marked online (loop time).
        self._heartbeat_served_at = float("-inf")
        # Registers the lane's wake-up for "jobs are due" while it runs.
        self._signals = contextlib.ExitStack()
        self._threads = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="jobsvc-handler")
        self._invoker = Invoker(self._threads, tracing, limits or PayloadLimits())
        listener.on_cancel(self._lane.on_cancel_request)

    @property
    def running_count(self) -> int:
        """Jobs running in this process now."""
        return len(self._running)

    async def start(self) -> None:
        """Start the claim and heartbeat tasks."""
        if not len(self._table):
            return
        self._lane.due = self._signals.enter_context(self._listener.due_signal())
        if self._local is not None:
            self._local.add(self._lane)
            self._signals.callback(self._local.remove, self._lane)
        self._supervisor.start("claim", self._lane.claim_round)
        self._supervisor.start("heartbeat", self._lane.lease_round)
        self._started = True

    async def stop(self, grace: float) -> None:
        """Stop claiming; give running jobs `grace` seconds, then requeue the rest."""
        self._lane.stop_claiming()
        if self._started:
            # Not cancelled: a claim in flight may have committed, and jobs claimed but never
            # launched would sit RUNNING until their lease ran out (their callers waiting).
            # The round launches what it got (drained below like the rest) and ends.
            await self._supervisor.stop("claim", drain=self.config.lease_seconds)
        pending = [r.task for r in self._running.values() if r.task is not None]
        if pending:
            log.info("draining %d running job(s) for up to %.1fs", len(pending), grace)
            await asyncio.wait(pending, timeout=grace)
        self._lane.stop_all(SHUTDOWN)
        leftovers = [r.task for r in self._running.values() if r.task is not None]
        if leftovers:
            await asyncio.wait(leftovers, timeout=5)
        await self._supervisor.stop("heartbeat")
        self._signals.close()
        self._threads.shutdown(wait=False, cancel_futures=True)

    # -- the lane's consumer (see jobsvc.app.dispatch.Consumer) ---------------------

    async def deliver(self, claim: Claim) -> None:
        """Run the claimed attempt in a task of its own."""
        running = _Running(claim)
        self._running[claim.attempt_token] = running
        running.task = asyncio.create_task(self._run(running), name=f"jobsvc-job-{claim.job.id}")

    def stop_attempt(self, job_id: str, token: str, reason: str) -> None:
        """Cancel the attempt's handler; its task settles or releases it once stopped."""
        running = self._running.get(token)
        if running is None:
            self._lane.release(job_id, token)
            return
        if running.stop_reason is not None:
            return
        running.stop_reason = reason
        running.cancelled.set()
        if running.task is not None:
            running.task.cancel()

    def alive(self) -> bool:
        """The executor is this process: alive while it runs."""
        return True

    async def announce(self) -> None:
        """Mark the served versions online, at most every 10 s."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._heartbeat_served_at > 10:
            await self._store.handler_touch([(d.name, str(d.version)) for d in self._table])
            self._heartbeat_served_at = loop.time()

    # -- one job -------------------------------------------------------------

    async def _run(self, running: _Running) -> None:
        job = running.claim.job
        # The job's task: every line logged while it runs (the handler's too) is about it.
        with job_fields(job.id, job.handler, job.version, job.attempt):
            try:
                await self._run_attempt(running)
            finally:
                del self._running[running.claim.attempt_token]

    async def _run_attempt(self, running: _Running) -> None:
        claim = running.claim
        job = claim.job
        definition = self._table.get(job.handler, job.version)
        assert definition is not None, "claimed a job of a version this executor does not serve"
        writer = _EventWriter(self._store, claim, asyncio.get_running_loop(), self._invoker.payload_limit)
        ctx = JobContext(
            job_id=job.id,
            handler=job.handler,
            version=job.version,
            attempt=job.attempt,
            labels=job.labels,
            resources=self._resources,
            sink=writer,
            cancelled=running.cancelled,
            durable=self._children.bound(job.id, claim.attempt_token) if self._children is not None else None,
        )
        timeout = _seconds_until(claim.attempt_deadline)
        outcome: Outcome | None = None
        try:
            outcome = await self._invoker.run(definition, ctx, job.input, timeout, job.trace_context)
        except asyncio.CancelledError:
            outcome = None  # stopped: cancelled, shutting down or lease lost (see stop_reason)
        outcome = with_output_failure(outcome, writer.failure)
        # From here on the attempt is being settled: a lease round that no longer finds it
        # (its outcome just committed) or a cancel request leaves it alone.
        with self._lane.settling_block(job.id, claim.attempt_token):
            try:
                await writer.close()
                how = _settlement(running.stop_reason, outcome)
                if how is None:
                    return  # lease lost: someone else owns the job now; our write would be refused
                # Transient failures written again once the database answers (see Lane.write).
                if not await self._lane.write(job.id, claim.attempt_token, how):
                    log.info("job %s: outcome refused, attempt %d is no longer current", job.id, job.attempt)
            except JobsvcError as exc:
                # The lease will expire and a replica's rescuer requeues the job.
                log.error("job %s: outcome not recorded (%s); it will be retried after its lease", job.id, exc)
            except Exception:
                log.exception("job %s: outcome not recorded; it will be retried after its lease", job.id)


def _settlement(stop_reason: str | None, outcome: Outcome | None) -> Settlement | None:
    """How an attempt that ended for stop_reason (None: it was not stopped) with outcome is
    settled; None when it is not ours to settle any more (lease lost, rescued)."""
    if stop_reason == CANCELLED:
        return Cancel()
    if stop_reason is not None and stop_reason != SHUTDOWN:
        return None
    if outcome is None:  # shutting down: not the job's fault, so not a failed attempt
        return Requeue("executor shutting down")
    if outcome.error is not None:
        return Fail(outcome.error, outcome.retry_delay)
    if outcome.park is not None:
        return Suspend(outcome.park)
    return Succeed(outcome.result)


def _seconds_until(moment: datetime | None) -> float | None:
    """Seconds from now until moment (at least 0), or None for no moment."""
    if moment is None:
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
