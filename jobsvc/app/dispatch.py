"""The one dispatch engine: claiming jobs, keeping their leases and settling attempts.

The in-process executor and every remote worker session are *consumers*: each has one
`Lane`, its share of the queue. The lane claims due jobs up to the consumer's free
capacity and hands them over (`Consumer.deliver`), extends the leases of the attempts
it holds while the consumer is alive, tells the consumer to stop an attempt whose lease
is lost or whose job was cancelled (`Consumer.stop_attempt`), and settles attempts through the
process-wide `Settler`, which writes the outcome (fenced by the attempt token), counts
it and logs it.

The rule that a settled attempt is never stopped lives here, once. The lease keeper, a
worker's heartbeats and cancellations run beside settlements and each of them awaits
the database: an attempt settled meanwhile is over, not lost. So after each await the
lane acts only on attempts it still holds and that are not being settled (`settling`)
or already told to stop, and remembers the tokens that ended here (`ended`) so that a
late heartbeat naming one is not answered with a stop.

Throughput:
- claims come in batches of up to `LaneConfig.claim_batch`; a prefetch buffer would sit
  between `job_claim` and `_deliver` in `claim_round` (claim more than the free slots,
  deliver as slots free, give back what the lease would outlive);
- a job a Call submits in this process starts on a free slot of a local lane without a
  claim round trip (`LocalSlots`: the slot is reserved, the job inserted already
  started, then handed over with `Lane.offer`);
- settlements go through `Settler`, whose store coalesces concurrent finishes into one
  statement; a lane-level batch (`Settler.settle_many`) would slot in at `Lane.settle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar, assert_never

from jobsvc.app.pauses import Pauses
from jobsvc.domain.children import Park
from jobsvc.domain.errors import JobsvcError
from jobsvc.domain.jobs import Claim, JobError, JobState, Payload, Transition
from jobsvc.domain.pauses import PausedSet
from jobsvc.domain.values import is_uuid
from jobsvc.observability.logs import job_fields, log_transition
from jobsvc.observability.metrics import Metrics
from jobsvc.store.port import JobStore

log = logging.getLogger("jobsvc.dispatch")

# Why a consumer is told to stop an attempt (a remote worker receives it as the reason).
CANCELLED = "cancelled"
LEASE_LOST = "lease lost"
RESCUED = "rescued: a newer attempt of the job was assigned"
SHUTDOWN = "shutdown"
# What a lane without a view of the pauses claims by.
NOTHING_PAUSED = PausedSet()
# A lane remembers at least this many attempts that ended here (see Lane.ended).
ENDED_REMEMBERED = 256
# An outcome whose write failed for a transient reason is written again for this long
# (see OutcomeKeeping): longer than a failover (Patroni's 30 s TTL, then the promotion).
OUTCOME_PATIENCE = 60.0
# At most this many outcomes are kept at once (each holds its result in memory).
OUTCOMES_KEPT = 1000

T = TypeVar("T")


# -- settlements -------------------------------------------------------------------


@dataclass(frozen=True)
class Succeed:
    """The attempt succeeded with this result."""

    result: Payload | None


@dataclass(frozen=True)
class Fail:
    """The attempt failed: retried per the job's policy (after retry_delay if given), or FAILED."""

    error: JobError
    retry_delay: float | None = None


@dataclass(frozen=True)
class Cancel:
    """The attempt ends the job as CANCELLED."""


@dataclass(frozen=True)
class Requeue:
    """Give the attempt back to the queue: not the job's fault, not a failed attempt."""

    why: str


@dataclass(frozen=True)
class Suspend:
    """The handler parked (ctx.wait, ctx.sleep): the attempt ends without failing, and the
    job runs again when its children have finished or its sleep is over."""

    park: Park


Settlement = Succeed | Fail | Cancel | Requeue | Suspend


class OutcomeKeeping:
    """Outcomes whose write failed for a transient reason (the database went away
    mid-settle: a restart, a failover, a deadlock), kept and written again until the
    database answers, with the same attempt token: fencing decides, so a job that
    finished is not run again after its lease, and a Call on it answers as soon as the
    database is back instead of after the lease and a second run.

    Bounded in time (each outcome for `patience` seconds, then the write fails as it
    used to and the lease decides) and in memory (at most `limit` outcomes at once; the
    one past the limit fails at once). The caller awaits the write meanwhile: its lane
    holds the attempt as settling (its lease is extended when the database is back).
    """

    def __init__(self, patience: float = OUTCOME_PATIENCE, limit: int = OUTCOMES_KEPT) -> None:
        self.patience = patience
        self.limit = limit
        self.kept = 0
        # Set (and replaced) when the database answers again: kept writes try at once.
        self._answering = asyncio.Event()

    def retry_now(self) -> None:
        """The database answers again (health found it reachable): write what is kept now."""
        self._answering.set()
        self._answering = asyncio.Event()

    async def written(self, job_id: str, write: Callable[[], Awaitable[T]]) -> T:
        """write(), tried again on transient failures within the bounds."""
        try:
            return await write()
        except JobsvcError as exc:
            if not exc.transient or self.kept >= self.limit:
                raise
            log.warning(
                "job %s: outcome not written (%s); kept and written again once the database answers (up to %gs)",
                job_id,
                exc,
                self.patience,
            )
        loop = asyncio.get_running_loop()
        since = loop.time()
        delay = 0.05
        self.kept += 1
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._answering.wait(), delay)
                delay = min(delay * 2, 1.0)
                try:
                    done = await write()
                except JobsvcError as exc:
                    if not exc.transient or loop.time() + delay - since > self.patience:
                        raise
                    continue
                log.info("job %s: kept outcome written after %.1fs", job_id, loop.time() - since)
                return done
        finally:
            self.kept -= 1


class Settler:
    """Writes attempt outcomes (fenced by the attempt token), counts and logs them.

    Process-wide: used by every lane and by the unary Ack/Nack/Reject RPCs. Each method
    returns what the store did, or None/False when the token is stale. With `keeping`,
    an outcome (succeed, fail, cancel) whose write fails for a transient reason is
    written again (see OutcomeKeeping); a requeue is not kept (its lease gives the job
    back all the same).
    """

    def __init__(
        self,
        store: JobStore,
        metrics: Metrics,
        jobs_due: Callable[[datetime | None], None],
        logger: logging.Logger = log,
        keeping: OutcomeKeeping | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._jobs_due = jobs_due
        self._log = logger
        self._keeping = keeping

    def logging_to(self, logger: logging.Logger) -> Settler:
        """The same settler, its transition lines written by logger: each component keeps
        its own logger name (jobsvc.executor, jobsvc.ack), which operators filter on."""
        return Settler(self._store, self._metrics, self._jobs_due, logger, self._keeping)

    def without_keeping(self) -> Settler:
        """The same settler, failing at once: for a request whose caller retries itself
        (the unary Ack/Nack/Reject RPCs answer UNAVAILABLE within the client's deadline)."""
        return Settler(self._store, self._metrics, self._jobs_due, self._log)

    async def _written(self, job_id: str, write: Callable[[], Awaitable[T]]) -> T:
        if self._keeping is None:
            return await write()
        return await self._keeping.written(job_id, write)

    async def succeed(self, job_id: str, token: str, result: Payload | None) -> Transition | None:
        """End the job SUCCEEDED with result."""
        change = await self._written(job_id, lambda: self._store.job_finish(job_id, token, JobState.SUCCEEDED, result))
        return self._recorded(change)

    async def fail(
        self, job_id: str, token: str, error: JobError, retry_delay: float | None = None
    ) -> Transition | None:
        """Fail the attempt; a retry wakes the claim loops (here and on other replicas) for its due time."""
        change = await self._written(job_id, lambda: self._store.job_fail_attempt(job_id, token, error, retry_delay))
        change = self._recorded(change, error.type)
        if change is not None and change.next_run_at is not None:
            self._jobs_due(change.next_run_at)
        return change

    async def cancel(self, job_id: str, token: str) -> Transition | None:
        """End the job CANCELLED."""
        return self._recorded(
            await self._written(job_id, lambda: self._store.job_finish(job_id, token, JobState.CANCELLED))
        )

    async def requeue(self, job_id: str, token: str, why: str) -> bool:
        """Give the attempt back to the queue. The caller wakes claim loops (jobs_due) when
        it wants the job taken elsewhere soon: it may give back several at once."""
        accepted = await self._store.job_requeue(job_id, token, why)
        if accepted:
            self._log.info("job %s: requeued, %s", job_id, why)
        return accepted

    async def park(self, job_id: str, token: str, park: Park) -> bool:
        """Park the attempt (see jobsvc_job_park); a job queued again by it (nothing left
        to wait for, or a sleep) wakes the claim loops for its due time."""
        parked = await self._store.job_park(job_id, token, park)
        if parked is None:
            return False
        state, wake_at = parked
        self._log.info("job %s: parked (%s)", job_id, state.value)
        if wake_at is not None:
            self._jobs_due(wake_at)
        return True

    async def settle(self, job_id: str, token: str, how: Settlement) -> bool:
        """Apply one settlement; whether the store accepted it (False: stale token)."""
        match how:
            case Succeed(result):
                return await self.succeed(job_id, token, result) is not None
            case Fail(error, retry_delay):
                return await self.fail(job_id, token, error, retry_delay) is not None
            case Cancel():
                return await self.cancel(job_id, token) is not None
            case Requeue(why):
                return await self.requeue(job_id, token, why)
            case Suspend(park):
                return await self.park(job_id, token, park)
            case _:
                assert_never(how)

    def _recorded(self, change: Transition | None, error_type: str = "") -> Transition | None:
        if change is not None:
            self._metrics.transition(change)
            with job_fields(change.job_id, change.handler, change.version, change.attempt):
                log_transition(self._log, change, error_type)
        return change


# -- lanes -------------------------------------------------------------------------


class Consumer(Protocol):
    """What runs the attempts a lane claims: the in-process executor, or a worker session."""

    async def deliver(self, claim: Claim) -> None:
        """Start (or send) an attempt the lane holds now. May settle it at once through
        the lane instead (e.g. a job that cannot be sent)."""
        ...

    def stop_attempt(self, job_id: str, token: str, reason: str) -> None:
        """Stop this attempt (reason: CANCELLED, LEASE_LOST, RESCUED, SHUTDOWN or a message).
        Call `Lane.release` once it is gone; for a CANCELLED or SHUTDOWN stop of a lane
        that does not write the cancel itself, settle it (`Cancel`/`Requeue`) instead."""
        ...

    def alive(self) -> bool:
        """Whether the consumer is heard from: a silent one's leases are left to run out."""
        ...

    async def announce(self) -> None:
        """Keep the served versions marked online (called by each lease round)."""
        ...


@dataclass(frozen=True)
class LaneConfig:
    """One consumer's share of the queue."""

    owner: str
    served: tuple[str, ...]
    capacity: int
    lease_seconds: float
    # Any served version has flow control: claims apply the limits.
    limited: bool = True
    claim_batch: int = 32
    # A lost NOTIFY delays a due job by at most this long.
    poll_interval: float = 5.0
    # Cancel requests: the lane writes CANCELLED before telling the consumer, which may
    # never answer (a remote worker). Otherwise the consumer settles `Cancel` once its
    # handler stopped (the in-process executor: the handler's last events still land).
    cancel_first: bool = False


class Ending:
    """Whether an attempt whose settlement block ran ended here (see Lane.settling_block)."""

    def __init__(self) -> None:
        self.over = True


class Lane:
    """One consumer's share of the queue: claims, leases, stops and settlements."""

    def __init__(
        self,
        store: JobStore,
        settler: Settler,
        metrics: Metrics,
        consumer: Consumer,
        config: LaneConfig,
        *,
        pauses: Pauses | None = None,
    ) -> None:
        self._store = store
        # The pauses in force on this replica: paused versions are left out of claims.
        self._pauses = pauses
        self._settler = settler
        self._metrics = metrics
        self._consumer = consumer
        self.config = config
        # job id -> attempt token of each attempt the consumer runs for this lane.
        self.held: dict[str, str] = {}
        # Tokens whose settlement is being written (it may have committed already).
        self.settling: set[str] = set()
        # Tokens the consumer was told to stop and has not released yet.
        self.stopping: set[str] = set()
        # Tokens of attempts that ended here (settled, or told to stop), the most recent last.
        self.ended: OrderedDict[str, None] = OrderedDict()
        # Set when the lane should claim: jobs may be due, or a slot freed up. The owner
        # replaces it with the listener's due signal while the lane runs.
        self.due = asyncio.Event()
        # Slots promised to jobs being submitted here (see LocalSlots); not free for claims.
        self.reserved = 0
        # Claim without waiting first: at start, after a full batch, after a failed claim.
        self._claim_now = True
        # Extend the leases without waiting a third of the lease first: after a failed
        # round (the database was gone: the leases are running out, and health waits for
        # this task to succeed once before it says SERVING again).
        self._extend_now = False
        # Jobs may be waiting for a slot (the lane was full when woken, or its last claim
        # came back full): a slot that frees wakes the claim loop. Otherwise it does not,
        # and a lane running one Call at a time makes no empty claim per job.
        self._waiting_for_slot = True
        self._draining = False
        self._cancels: set[asyncio.Task[None]] = set()

    # -- claiming --------------------------------------------------------------------

    async def claim_round(self) -> None:
        """Unless the last claim came back full (more may be due right now), wait until
        jobs may be due or a slot frees; then claim due jobs for the free slots and
        deliver them. (The wait comes first so that a round ends when its claim succeeded.)"""
        if not self._claim_now:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.due.wait(), self.config.poll_interval)
        if self._draining:
            return
        # Cleared before claiming: a wake-up that arrives during the claim is kept.
        self.due.clear()
        self._claim_now = True  # should this claim fail, the next round claims again at once
        free = self.free
        if free <= 0:
            self._claim_now = False
            self._waiting_for_slot = True
            return
        want = min(free, self.config.claim_batch)
        paused = self._pauses.current if self._pauses is not None else NOTHING_PAUSED
        served = paused.unpaused(self.config.served)
        if not served:  # every served version is paused: a resume wakes the lane
            self._claim_now = False
            return
        # Seam: a prefetch buffer would claim more than `free` here and keep the rest.
        claims = await self._store.job_claim(
            served,
            self.config.owner,
            want,
            self.config.lease_seconds,
            limited=self.config.limited,
            paused_keys=paused.flow_keys,
        )
        # Delivered even when draining meanwhile: these claims committed (see stop_claiming).
        for claim in claims:
            await self._deliver(claim)
        self._claim_now = self._waiting_for_slot = len(claims) == want

    @property
    def free(self) -> int:
        """Slots the consumer has free: its capacity less the attempts it runs (held and
        not settling) and the reserved slots. An attempt whose outcome is being written
        takes no slot: the consumer is done with it, and waiting for the commit (a disk
        flush) before claiming again would leave the consumer idle for that long. Its
        lease stays held until the write lands; at most `capacity` writes are in flight."""
        capacity, held = self.config.capacity, len(self.held) + self.reserved
        running = held - len(self.settling)
        return min(capacity - running, 2 * capacity - held)

    def reserve(self) -> bool:
        """Promise a free slot to a job about to be submitted here; False when none is free
        or the lane takes no more jobs. Then `offer` the job, or `unreserve`."""
        if self._draining or self.free <= 0:
            return False
        self.reserved += 1
        return True

    def unreserve(self) -> None:
        """The reserved slot is not needed (the job was queued after all): free for claims."""
        self.reserved -= 1
        if self._waiting_for_slot:
            self.due.set()

    async def offer(self, claim: Claim) -> None:
        """Run a job that started in a slot reserved for it (inserted already claimed)."""
        self.reserved -= 1
        await self._deliver(claim)

    def stop_claiming(self) -> None:
        """No new claims; a claim in flight still delivers what it got (it committed, and
        undelivered jobs would sit RUNNING until their lease ran out)."""
        self._draining = True
        self.due.set()

    async def _deliver(self, claim: Claim) -> None:
        """Hand a claimed (or started-at-insert) attempt to the consumer, unless the answer
        that gave it came after its lease: the job may be running elsewhere by now."""
        job = claim.job
        if claim.lease_ran_out(datetime.now(UTC)):
            log.warning("job %s: claimed, but the answer came after its lease; left to the rescuer", job.id)
            return
        self._metrics.attempt_started(job.handler, job.version)
        previous = self.held.get(job.id)
        if previous is not None and previous != claim.attempt_token:
            # Its lease ran out and the job came back to this lane: stop the old attempt.
            self._stop(job.id, previous, RESCUED)
        self.held[job.id] = claim.attempt_token
        await self._consumer.deliver(claim)

    # -- leases ----------------------------------------------------------------------

    async def lease_round(self) -> None:
        """Every third of the lease, while the consumer is alive: extend the held leases
        (settling ones too: their lease holds until the outcome lands); stop attempts
        whose lease is lost or whose job was cancelled (a missed notification). After a
        failed round, at once (once the supervisor's backoff, cut short when the database
        is back, is over)."""
        if not self._extend_now:
            await asyncio.sleep(self.config.lease_seconds / 3)
        if not self._consumer.alive():
            return  # a silent consumer (hung, or its network gone) loses its leases
        self._extend_now = True  # should this round fail, the next one does not wait
        await self._consumer.announce()
        leases = list(self.held.items())
        extended = await self._store.job_lease_extend(leases, self.config.lease_seconds)
        self._extend_now = False
        cancel_requested = {job_id: cancel for job_id, (cancel, _) in extended.items()}
        for job_id, token in leases:
            # Settled while the extension ran, or being settled (its write may have
            # committed before the extension looked): over, not lost.
            if not self._active(job_id, token):
                continue
            if job_id not in cancel_requested:
                self._stop(job_id, token, LEASE_LOST)
            elif cancel_requested[job_id]:
                await self._cancel(job_id, token)

    async def heartbeat(self, leases: Sequence[tuple[str, str]]) -> None:
        """The consumer's own list of what it runs (a worker's heartbeat): extend those
        leases, hold again those held (a reconnected worker resumes its leases), stop
        the others. Attempts that ended here are skipped: the worker listed them before
        it heard they were settled."""
        refs = [(j, t) for j, t in leases if not self.ended_here(t)]
        valid = [(j, t) for j, t in refs if is_uuid(j) and is_uuid(t)]
        held = await self._store.job_lease_extend(valid, self.config.lease_seconds)
        for job_id, token in refs:
            if self.ended_here(token):
                continue  # stopped by a cancellation while the extension ran
            if job_id in held and self.held.get(job_id) in (None, token):
                self.held[job_id] = token
            else:
                # Only this (stale) attempt is stopped; a newer attempt of the job stays.
                self._stop(job_id, token, LEASE_LOST)

    # -- cancellation and stops ----------------------------------------------------------

    def on_cancel_request(self, job_id: str) -> None:
        """A replica asked to cancel job_id (the listener's fan-out)."""
        token = self.held.get(job_id)
        if token is None or not self._active(job_id, token):
            return
        task = asyncio.get_running_loop().create_task(self._cancel(job_id, token), name=f"jobsvc-cancel-{job_id}")
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)

    async def _cancel(self, job_id: str, token: str) -> None:
        if not self.config.cancel_first:
            self._stop(job_id, token, CANCELLED)
            return
        # The lane writes the terminal state itself, so a worker that never answers cannot
        # leave the job running; its late ack is then refused.
        try:
            change = await self._settler.cancel(job_id, token)
        except JobsvcError:
            change = None  # not written: the consumer is still told to stop
        else:
            if change is None and self.ended_here(token):
                return  # the consumer's settlement came first: the attempt is over, not cancelled
        self._stop(job_id, token, CANCELLED)

    def stop(self, job_id: str, token: str, reason: str) -> None:
        """Tell the consumer to stop this attempt (e.g. it failed for a payload over the limit)."""
        self._stop(job_id, token, reason)

    def stop_all(self, reason: str) -> None:
        """Stop every held attempt that is neither settling nor stopping already."""
        for job_id, token in list(self.held.items()):
            if self._active(job_id, token):
                self._stop(job_id, token, reason)

    def _stop(self, job_id: str, token: str, reason: str) -> None:
        self.stopping.add(token)
        self._consumer.stop_attempt(job_id, token, reason)

    def _active(self, job_id: str, token: str) -> bool:
        """Held, and neither being settled nor told to stop (checked after each await)."""
        return self.held.get(job_id) == token and token not in self.settling and token not in self.stopping

    # -- settling --------------------------------------------------------------------

    def ended_here(self, token: str) -> bool:
        """Whether this lane settled or stopped the attempt, or is settling it now."""
        return token in self.settling or token in self.ended

    def release(self, job_id: str, token: str, *, over: bool = True) -> None:
        """Stop holding this attempt (if it is the one held): its slot is free. `over`: it
        ended here for good (settled, refused as stale, or stopped), so remember its token."""
        self.stopping.discard(token)
        if self.held.get(job_id) == token:
            del self.held[job_id]
            if self._waiting_for_slot:
                self.due.set()
        if over:
            self.ended[token] = None
            # Enough for the settlements of the heartbeats in flight, whatever the worker's rate.
            while len(self.ended) > max(ENDED_REMEMBERED, 4 * self.config.capacity):
                self.ended.popitem(last=False)

    @contextlib.contextmanager
    def settling_block(self, job_id: str, token: str) -> Iterator[Ending]:
        """Run a settlement of a held attempt: marked settling meanwhile (no lease round or
        cancel stops it), released after. Set `ending.over = False` when the attempt did
        not end (its write failed and the consumer may try again)."""
        ending = Ending()
        self.settling.add(token)
        if self._waiting_for_slot:
            self.due.set()  # the consumer's slot is free now (see free)
        try:
            yield ending
        finally:
            self.settling.discard(token)
            self.release(job_id, token, over=ending.over)

    async def settle(self, job_id: str, token: str, how: Settlement) -> bool:
        """Settle an attempt through the Settler and release it; whether the store accepted
        it (see write)."""
        with self.settling_block(job_id, token):
            return await self.write(job_id, token, how)

    async def write(self, job_id: str, token: str, how: Settlement) -> bool:
        """Write a settlement, inside a settling_block; whether the store accepted it. The
        attempt stays held (its lease extended) while the Settler keeps an outcome whose
        write failed for a transient reason (see OutcomeKeeping): a write that lands saves
        running the job again after its lease."""
        return await self._settler.settle(job_id, token, how)


class LocalSlots:
    """The lanes of this process by the versions they serve: where a job submitted here
    can start at once, without a claim round trip (the in-process executor's lane first,
    then the worker sessions', in the order they opened)."""

    def __init__(self, pauses: Pauses | None = None) -> None:
        self._lanes: dict[str, list[Lane]] = {}
        # The pauses in force: a job of a paused version never starts at once, and every
        # lane of this process leaves paused versions out of its claims.
        self.pauses = pauses

    def add(self, lane: Lane) -> None:
        """A lane that takes jobs submitted here."""
        for key in lane.config.served:
            self._lanes.setdefault(key, []).append(lane)

    def remove(self, lane: Lane) -> None:
        """The lane is closing."""
        for key in lane.config.served:
            lanes = self._lanes.get(key, [])
            if lane in lanes:
                lanes.remove(lane)
            if not lanes:
                self._lanes.pop(key, None)

    def reserve(self, key: str) -> Lane | None:
        """A lane serving 'name@version' key with a slot now reserved, or None."""
        if self.pauses is not None and self.pauses.current.paused(key):
            return None
        for lane in self._lanes.get(key, ()):
            if lane.reserve():
                return lane
        return None
