"""The in-process executor: claims due jobs for the handler versions this process
serves, runs them with bounded concurrency, and writes their events and outcome.

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
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jobsvc.domain.errors import JobsvcError
from jobsvc.domain.handlers import HandlerTable, JobContext
from jobsvc.domain.jobs import Claim, EventKind, JobError, JobState, JsonValue, Payload, Transition
from jobsvc.domain.limits import PayloadLimits
from jobsvc.handlers.invoke import Invoker, Outcome, with_output_failure
from jobsvc.handlers.payloads import PayloadTooLarge, checked_size, encode_value
from jobsvc.observability.logs import job_fields, log_transition
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


class _StopReason:
    CANCELLED = "cancelled"
    SHUTDOWN = "shutdown"
    LEASE_LOST = "lease lost"


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
    cancelled: threading.Event = field(default_factory=threading.Event)
    stop_reason: str | None = None
    # Set once the handler is done and its outcome is being written. From then on the job
    # is not stopped: a heartbeat that no longer finds it (the outcome just committed) or a
    # cancel request would otherwise cancel the task in the middle of the write.
    settling: bool = False


class Executor:
    """Runs the handlers of one HandlerTable on jobs leased from the store."""

    def __init__(
        self,
        store: JobStore,
        listener: Notifications,
        table: HandlerTable,
        *,
        owner: str,
        jobs_due: Callable[[datetime | None], None],
        supervisor: Supervisor,
        resources: Mapping[str, Any] | None = None,
        config: ExecutorConfig | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
        limits: PayloadLimits | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics or Metrics()
        self._listener = listener
        self._jobs_due = jobs_due
        self._supervisor = supervisor
        self._table = table
        self._owner = owner
        self._resources = dict(resources or {})
        self.config = config or ExecutorConfig()
        self._running: dict[str, _Running] = {}
        # Any served version with flow control makes every claim apply the limits.
        self._limited = any(d.flow for d in table)
        # Set when this executor should claim: jobs may be due, or a slot freed up.
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._started = False
        # Claim without waiting first: at start, after a full batch, after a failed claim.
        self._claim_now = True
        # When the served versions were last marked online (loop time).
        self._heartbeat_served_at = float("-inf")
        # Registers this executor's wake-up for "jobs are due" while it runs.
        self._signals = contextlib.ExitStack()
        self._threads = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="jobsvc-handler")
        self._invoker = Invoker(self._threads, tracing, limits or PayloadLimits())
        listener.on_cancel(self._on_cancel_request)

    @property
    def running_count(self) -> int:
        """Jobs running in this process now."""
        return len(self._running)

    async def start(self) -> None:
        """Start the claim and heartbeat tasks."""
        if not len(self._table):
            return
        self._wakeup = self._signals.enter_context(self._listener.due_signal())
        self._supervisor.start("claim", self._claim_round)
        self._supervisor.start("heartbeat", self._heartbeat_round)
        self._started = True

    async def stop(self, grace: float) -> None:
        """Stop claiming; give running jobs `grace` seconds, then requeue the rest."""
        self._stopping = True
        if self._started:
            # Not cancelled: a claim in flight may have committed, and jobs claimed but never
            # launched would sit RUNNING until their lease ran out (their callers waiting).
            # The round launches what it got (drained below like the rest) and ends.
            self._wakeup.set()
            await self._supervisor.stop("claim", drain=self.config.lease_seconds)
        pending = [r.task for r in self._running.values() if r.task is not None]
        if pending:
            log.info("draining %d running job(s) for up to %.1fs", len(pending), grace)
            await asyncio.wait(pending, timeout=grace)
        for running in list(self._running.values()):
            self._stop_job(running, _StopReason.SHUTDOWN)
        leftovers = [r.task for r in self._running.values() if r.task is not None]
        if leftovers:
            await asyncio.wait(leftovers, timeout=5)
        await self._supervisor.stop("heartbeat")
        self._signals.close()
        self._threads.shutdown(wait=False, cancel_futures=True)

    # -- tasks (rounds run by the supervisor) ------------------------------------

    async def _claim_round(self) -> None:
        """Unless the last claim came back full (more may be due right now), wait until
        jobs may be due or a slot frees; then claim due jobs for the free slots and launch
        them. (The wait comes first so that a round ends when its claim succeeded.)"""
        if not self._claim_now:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.config.poll_interval)
        if self._stopping:
            return
        # Cleared before claiming: a wake-up that arrives during the claim is kept.
        self._wakeup.clear()
        self._claim_now = True  # should this claim fail, the next round claims again at once
        free = self.config.concurrency - len(self._running)
        if free <= 0:
            self._claim_now = False
            return
        want = min(free, self.config.claim_batch)
        claims = await self._store.job_claim(
            self._table.keys, self._owner, want, self.config.lease_seconds, limited=self._limited
        )
        now = datetime.now(UTC)
        for claim in claims:
            if claim.lease_ran_out(now):
                log.warning("job %s: claimed, but the answer came after its lease; left to the rescuer", claim.job.id)
                continue
            self._launch(claim)
        self._claim_now = len(claims) == want

    async def _heartbeat_round(self) -> None:
        """Extend the leases of running jobs; stop those whose lease is lost or that were
        cancelled (a cancel whose notification was missed)."""
        await asyncio.sleep(self.config.lease_seconds / 3)
        loop = asyncio.get_running_loop()
        if loop.time() - self._heartbeat_served_at > 10:
            await self._store.handler_touch([(d.name, str(d.version)) for d in self._table])
            self._heartbeat_served_at = loop.time()
        # Settling jobs too: their lease holds until the outcome write lands.
        ids = list(self._running)
        held = await self._store.job_lease_extend(ids, self._owner, self.config.lease_seconds)
        for job_id in ids:
            running = self._running.get(job_id)
            # Gone, or its outcome is being written: the extend raced the settlement, which
            # is what made the job vanish from the held leases. Not a lost lease.
            if running is None or running.settling:
                continue
            if job_id not in held:
                self._stop_job(running, _StopReason.LEASE_LOST)
            elif held[job_id]:
                self._stop_job(running, _StopReason.CANCELLED)

    # -- one job -------------------------------------------------------------

    def _launch(self, claim: Claim) -> None:
        previous = self._running.get(claim.job.id)
        if previous is not None:  # its lease ran out and the job came back to us: stop the old attempt
            self._stop_job(previous, _StopReason.LEASE_LOST)
        running = _Running(claim)
        self._running[claim.job.id] = running
        self._metrics.attempt_started(claim.job.handler, claim.job.version)
        running.task = asyncio.create_task(self._run(running), name=f"jobsvc-job-{claim.job.id}")

    def _on_cancel_request(self, job_id: str) -> None:
        running = self._running.get(job_id)
        if running is not None:
            self._stop_job(running, _StopReason.CANCELLED)

    def _stop_job(self, running: _Running, reason: str) -> None:
        if running.stop_reason is not None or running.settling:
            return
        running.stop_reason = reason
        running.cancelled.set()
        if running.task is not None:
            running.task.cancel()

    async def _run(self, running: _Running) -> None:
        job = running.claim.job
        # The job's task: every line logged while it runs (the handler's too) is about it.
        with job_fields(job.id, job.handler, job.version, job.attempt):
            await self._run_attempt(running)

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
        )
        timeout = _seconds_until(claim.attempt_deadline)
        outcome: Outcome | None = None
        try:
            outcome = await self._invoker.run(definition, ctx, job.input, timeout, job.trace_context)
        except asyncio.CancelledError:
            outcome = None  # stopped: cancelled, shutting down or lease lost (see stop_reason)
        outcome = with_output_failure(outcome, writer.failure)
        running.settling = True
        try:
            await writer.close()
            await self._record_outcome_retrying(running, outcome)
        except JobsvcError as exc:
            # The lease will expire and a replica's rescuer requeues the job.
            log.error("job %s: outcome not recorded (%s); it will be retried after its lease", job.id, exc)
        except Exception:
            log.exception("job %s: outcome not recorded; it will be retried after its lease", job.id)
        finally:
            if self._running.get(job.id) is running:  # a newer attempt may have taken the slot
                del self._running[job.id]
            self._wakeup.set()  # a slot is free

    async def _record_outcome_retrying(self, running: _Running, outcome: Outcome | None) -> None:
        """Record the outcome, trying again while the failure is transient (a deadlock or
        serialization failure, a short outage) for up to half the lease: a write that lands
        saves running the job again after its lease."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.config.lease_seconds / 2
        delay = 0.05
        while True:
            try:
                await self._record_outcome(running, outcome)
                return
            except JobsvcError as exc:
                if not exc.transient or loop.time() + delay > give_up_at:
                    raise
                log.info("job %s: recording the outcome failed (%s); trying again", running.claim.job.id, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _record_outcome(self, running: _Running, outcome: Outcome | None) -> None:
        job, token = running.claim.job, running.claim.attempt_token
        if running.stop_reason == _StopReason.LEASE_LOST:
            return  # someone else owns the job now; our write would be refused anyway
        change: Transition | None = None
        if running.stop_reason == _StopReason.CANCELLED:
            change = await self._store.job_finish(job.id, token, JobState.CANCELLED)
            accepted = change is not None
        elif outcome is None:  # shutting down: not the job's fault, so not a failed attempt
            accepted = await self._store.job_requeue(job.id, token, "executor shutting down")
            if accepted:
                log.info("job %s: requeued, this executor is shutting down", job.id)
        elif outcome.error is not None:
            change = await self._store.job_fail_attempt(job.id, token, outcome.error)
            accepted = change is not None
            if change is not None and change.next_run_at is not None:
                self._jobs_due(change.next_run_at)  # the retry, here or on another replica
        else:
            change = await self._store.job_finish(job.id, token, JobState.SUCCEEDED, outcome.result)
            accepted = change is not None
        if change is not None:
            self._metrics.transition(change)
            log_transition(log, change, outcome.error.type if outcome and outcome.error else "")
        if not accepted:
            log.info("job %s: outcome refused, attempt %d is no longer current", job.id, job.attempt)


def _seconds_until(moment: datetime | None) -> float | None:
    """Seconds from now until moment (at least 0), or None for no moment."""
    if moment is None:
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
