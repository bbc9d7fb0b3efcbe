"""Remote workers: what the worker API (jobsvc.api.ack) does, without gRPC.

A remote worker either opens a session (the Work stream), whose `Lane` claims, keeps
leases, stops and settles exactly as the in-process executor's does, or uses the unary
calls: `lease` (a claim that may wait for due jobs), `heartbeat`, `progress` and the
settlements of `Settler`. Settlements are fenced by the attempt token: a late or
duplicated one of an attempt that was rescued changes nothing, and `refused` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from jobsvc.app.children import ChildrenApp
from jobsvc.app.dispatch import Consumer, Lane, LaneConfig, LocalSlots, Settler
from jobsvc.domain.errors import FailedPrecondition, JobsvcError, NotFound
from jobsvc.domain.jobs import Claim, EventKind, Payload
from jobsvc.domain.values import JsonValue
from jobsvc.domain.workers import Worker, WorkerSession
from jobsvc.observability.metrics import Metrics
from jobsvc.store.port import JobStore, Notifications

# The registry (and "online") of a set of served versions is refreshed at most this often.
REGISTER_EVERY = 10.0
# A replica refreshes its sessions' rows of the session directory (in-flight counts) this often;
SESSIONS_REFRESH_EVERY = 5.0
# a row not refreshed for this long belongs to a replica that died: listed no more, then deleted.
SESSIONS_STALE_AFTER = 30.0


@dataclass(frozen=True)
class RemoteWorkConfig:
    """Timings of remote workers."""

    # The lease of a worker that does not ask for its own.
    lease_seconds: float = 30.0
    # A session claims when told jobs are due (NOTIFY, or a timer for delayed jobs; after a
    # lost LISTEN connection every session is woken). This poll is only a safety net, and
    # each idle session costs a query per interval: 100 idle workers, 3 queries/s.
    poll_interval: float = 30.0
    # After a session ends, its leases run out after this long unless the worker comes back.
    reconnect_grace: float = 5.0


class RemoteWork:
    """The use cases of remote workers; one per process."""

    def __init__(
        self,
        store: JobStore,
        notifications: Notifications,
        settler: Settler,
        metrics: Metrics,
        *,
        config: RemoteWorkConfig | None = None,
        local: LocalSlots | None = None,
        replica: str = "",
        children: ChildrenApp | None = None,
    ) -> None:
        self._store = store
        # Child jobs and durable sleep of the workers' handlers (None: refused).
        self.children = children
        self._notifications = notifications
        self.settler = settler
        self._metrics = metrics
        self.config = config or RemoteWorkConfig()
        self._registered: dict[tuple[str, ...], float] = {}
        # The lanes of the open sessions: a cancel request reaches the one running the job.
        self._lanes: set[Lane] = set()
        # Where the sessions' lanes offer their free slots to Calls submitted here.
        self._local = local or LocalSlots()
        notifications.on_cancel(self._on_cancel_request)
        self.directory = SessionDirectory(store, replica)

    async def register(self, worker: Worker) -> None:
        """Register the worker's versions (and mark them online), throttled: 100 idle
        workers of one deployment cost one upsert per interval."""
        served = tuple(worker.keys)
        if time.monotonic() - self._registered.get(served, 0.0) > REGISTER_EVERY:
            await self._store.handler_register(worker.handlers)
            self._registered[served] = time.monotonic()

    # -- sessions ----------------------------------------------------------------------

    def session_lane(self, worker: Worker, owner: str, consumer: Consumer) -> Lane:
        """The lane of a new worker session (its share of the queue is the worker's
        concurrency), open until `session_closed`."""
        config = LaneConfig(
            owner=owner,
            served=tuple(worker.keys),
            capacity=worker.concurrency,
            lease_seconds=worker.lease_seconds,
            limited=worker.limited,
            poll_interval=self.config.poll_interval,
            # A worker that never answers cannot leave a cancelled job running.
            cancel_first=True,
        )
        lane = Lane(self._store, self.settler, self._metrics, consumer, config, pauses=self._local.pauses)
        self._lanes.add(lane)
        self._local.add(lane)
        return lane

    def due_signal(self) -> contextlib.AbstractContextManager[asyncio.Event]:
        """An event set whenever jobs may have become due (for a session's lane)."""
        return self._notifications.due_signal()

    def session_closed(self, lane: Lane) -> None:
        """The session of this lane ended: it runs nothing more."""
        self._lanes.discard(lane)
        self._local.remove(lane)

    async def release_leases(self, lane: Lane) -> None:
        """A closed session's leases run out after the reconnect grace unless its worker
        comes back (and lists them in a heartbeat of its next session)."""
        await self._store.job_lease_shorten(lane.config.owner, self.config.reconnect_grace)

    def _on_cancel_request(self, job_id: str) -> None:
        for lane in self._lanes:
            lane.on_cancel_request(job_id)

    # -- the unary API -----------------------------------------------------------------

    async def lease(self, worker: Worker, owner: str, max_jobs: int, wait: float) -> list[Claim]:
        """Claim up to max_jobs due jobs the worker serves, waiting up to `wait` seconds
        for some to become due. Claims answered after their lease ran out (the database
        was slow to answer) are left to the rescuer: the job may be running elsewhere."""
        deadline = time.monotonic() + wait
        with self._notifications.due_signal() as due:
            while True:
                due.clear()
                claims = await self._store.job_claim(
                    worker.keys, owner, max_jobs, worker.lease_seconds, limited=worker.limited
                )
                now = datetime.now(UTC)
                claims = [claim for claim in claims if not claim.lease_ran_out(now)]
                remaining = deadline - time.monotonic()
                if claims or remaining <= 0:
                    return claims
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(due.wait(), min(remaining, self.config.poll_interval))

    async def heartbeat(
        self, leases: Sequence[tuple[str, str]], lease_seconds: float
    ) -> dict[str, tuple[bool, datetime]]:
        """Extend leases by (job id, token): {job id: (cancel requested, lease deadline)} of those held."""
        return await self._store.job_lease_extend(leases, lease_seconds)

    async def progress(
        self, job_id: str, token: str, kind: EventKind, data: dict[str, JsonValue], payload: Payload | None = None
    ) -> int:
        """Append a progress or partial-output event to the attempt; its sequence number."""
        seq = await self._store.job_event_append(job_id, token, kind, data, payload)
        if seq is None:
            raise await self.refused(job_id)
        return seq

    def jobs_due(self) -> None:
        """Jobs were given back to the queue: wake claim loops (here and on other replicas)."""
        self._notifications.jobs_due(None)

    async def refused(self, job_id: str) -> JobsvcError:
        """Why a write naming an attempt of job_id was refused: the job does not exist, or
        the token is not its current attempt's."""
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


class SessionDirectory:
    """The worker sessions of every replica, kept in PostgreSQL so that any replica can
    list them all (WorkerDirectoryService.ListWorkers). This replica writes a row when a
    session opens, refreshes its rows' in-flight counts every SESSIONS_REFRESH_EVERY
    seconds while it has sessions (one statement), and deletes a row when its session
    ends; rows a dead replica left are ignored, then deleted, after SESSIONS_STALE_AFTER."""

    def __init__(self, store: JobStore, replica: str) -> None:
        self._store = store
        self._replica = replica
        self._open: dict[str, Lane] = {}
        self._refresher: asyncio.Task[None] | None = None

    async def opened(self, session_id: str, worker: Worker, lane: Lane) -> None:
        """A session opened here: listed at once, refreshed while it lasts."""
        now = datetime.now(UTC)
        session = WorkerSession(
            session_id, worker.worker_id, worker.keys, worker.concurrency, 0, self._replica, now, now
        )
        self._open[session_id] = lane
        await self._store.worker_session_put(session)
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh(), name="jobsvc-worker-sessions")

    async def closed(self, session_id: str) -> None:
        """A session ended here: listed no more."""
        self._open.pop(session_id, None)
        if not self._open and self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        await self._store.worker_session_delete(session_id)

    async def list(self) -> list[WorkerSession]:
        """Every replica's sessions that are refreshed, by worker name."""
        return await self._store.worker_session_list(SESSIONS_STALE_AFTER)

    async def _refresh(self) -> None:
        while self._open:
            await asyncio.sleep(SESSIONS_REFRESH_EVERY)
            held = [(session_id, len(lane.held)) for session_id, lane in self._open.items()]
            try:
                await self._store.worker_session_refresh(held, SESSIONS_STALE_AFTER)
            except JobsvcError:
                continue  # the database is away: the next round tries again
