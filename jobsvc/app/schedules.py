"""Schedules: the operations behind ScheduleService, and the loop every replica runs to
submit each due tick exactly once (see jobsvc.domain.schedules for the rules)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from jobsvc.app.jobs import JobsApp
from jobsvc.domain.errors import JobsvcError, NotFound
from jobsvc.domain.pauses import PausedSet
from jobsvc.domain.schedules import Schedule, WhilePaused
from jobsvc.store.port import JobStore
from jobsvc.supervisor import Supervisor

log = logging.getLogger("jobsvc.schedules")

SCHEDULE_LABEL = "jobsvc.schedule"
TICK_LABEL = "jobsvc.tick"


def _not_found(name: str) -> NotFound:
    return NotFound(
        f"schedule {name!r} does not exist",
        reason="SCHEDULE_NOT_FOUND",
        resource_type="schedule",
        resource_name=name,
    )


class Schedules:
    """Create, read, pause, resume and delete schedules, and run their ticks."""

    # With no schedule due, look again this often: another replica may have created one.
    IDLE_POLL_SECONDS = 30.0
    BATCH = 100

    TASK = "schedules"

    def __init__(
        self,
        app: JobsApp,
        store: JobStore,
        supervisor: Supervisor,
        paused: Callable[[], PausedSet] = PausedSet,
    ) -> None:
        self._app = app
        self._store = store
        self._supervisor = supervisor
        # The pauses in force on this replica (jobsvc.app.pauses.Pauses.current).
        self._paused = paused
        self._wakeup = asyncio.Event()
        # Seconds the next round waits before looking for due ticks (unless woken).
        self._delay = 0.0

    # -- operations -------------------------------------------------------------------

    async def create(self, schedule: Schedule, field: str) -> Schedule:
        """Store a new schedule whose job resolves to a registered handler version now."""
        await self._app.check(schedule.job, field)
        created = await self._store.schedule_create(schedule, schedule.timing.next_after(datetime.now(UTC)))
        self._wakeup.set()
        return created

    async def declare(self, schedules: list[Schedule]) -> None:
        """Create or update the schedules declared in handler code (every replica, at start)."""
        now = datetime.now(UTC)
        for schedule in schedules:
            if await self._store.schedule_declare(schedule, schedule.timing.next_after(now)) is None:
                log.warning("schedule %r declared in code is shadowed by one created over the API", schedule.name)
        self._wakeup.set()

    async def get(self, name: str) -> Schedule:
        """One schedule, or NotFound."""
        found = await self._store.schedule_get(name)
        if found is None:
            raise _not_found(name)
        return found

    async def list(self) -> list[Schedule]:
        """Every schedule."""
        return await self._store.schedule_list()

    async def set_paused(self, name: str, paused: bool) -> Schedule:
        """Pause, or resume from the next tick after now; a schedule already so stays as it is."""
        current = await self.get(name)
        if current.paused == paused:
            # Resuming an active schedule must not move its next tick: one that is due
            # (every replica was down) would be skipped whatever its missed_ticks says.
            return current
        next_tick = None if paused else current.timing.next_after(datetime.now(UTC))
        found = await self._store.schedule_set_paused(name, paused, next_tick)
        if found is None:
            raise _not_found(name)
        self._wakeup.set()
        return found

    async def delete(self, name: str) -> None:
        """Delete a schedule (its jobs stay)."""
        if not await self._store.schedule_delete(name):
            raise _not_found(name)

    # -- the tick loop ------------------------------------------------------------------

    def start(self) -> None:
        """Start submitting ticks (a task of the Supervisor: a failed round is tried again)."""
        self._supervisor.start(self.TASK, self._round)

    async def stop(self) -> None:
        """Stop submitting ticks."""
        await self._supervisor.stop(self.TASK)

    async def _round(self) -> None:
        # The wait comes first, so that a round ends when its ticks were submitted.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), self._delay)
        self._wakeup.clear()
        self._delay = 0.0  # should this round fail, the next one (after backoff) tries at once
        next_tick = await self.run_due()
        self._delay = self.IDLE_POLL_SECONDS
        if next_tick is not None:
            self._delay = min(self._delay, max(0.0, (next_tick - datetime.now(UTC)).total_seconds()))

    async def run_due(self) -> datetime | None:
        """Submit every due tick; the next tick of any schedule afterwards."""
        next_tick = await self._store.schedule_next_tick()
        now = datetime.now(UTC)
        if next_tick is None or next_tick > now:
            return next_tick
        for schedule in await self._store.schedule_due(now, self.BATCH):
            await self._tick(schedule, now)
        return await self._store.schedule_next_tick()

    async def _tick(self, schedule: Schedule, now: datetime) -> None:
        assert schedule.next_tick_at is not None
        tick = schedule.due_tick(now)
        job_id: str | None = None
        if tick is not None and await self._skipped_while_paused(schedule):
            log.info("schedule %r: tick %s skipped: its job is paused", schedule.name, tick.isoformat())
            tick = None  # last_tick_at stays the last tick that submitted a job
        elif tick is not None:
            spec = replace(
                schedule.job,
                idempotency_key=schedule.idempotency_key(tick),
                labels={**schedule.job.labels, SCHEDULE_LABEL: schedule.name, TICK_LABEL: tick.isoformat()},
            )
            try:
                [(job, _)] = await self._app.submit([(spec, f"schedule {schedule.name}.job")])
                job_id = job.id
            except JobsvcError as exc:
                if exc.transient:
                    raise  # the tick stays due and is tried again
                # The handler version is gone or the input no longer fits: this tick cannot
                # run; say so and carry on, rather than retrying it forever.
                log.error("schedule %r: tick %s not submitted: %s", schedule.name, tick.isoformat(), exc)
        else:
            log.info("schedule %r: ticks missed while no replica ran were skipped", schedule.name)
        # Only the replica that finds the schedule still at this tick moves it on (a
        # skipped tick too: it is not tried again).
        await self._store.schedule_advance(
            schedule.name, schedule.next_tick_at, schedule.timing.next_after(now), tick, job_id
        )

    async def _skipped_while_paused(self, schedule: Schedule) -> bool:
        """Whether this tick submits nothing: the schedule says skip and the job it would
        submit is paused (its handler, version or a flow-control key)."""
        paused = self._paused()
        if schedule.while_paused is not WhilePaused.SKIP or not paused:
            return False
        try:
            job = await self._app.check(schedule.job, f"schedule {schedule.name}.job")
        except JobsvcError:
            return False  # the submit says what is wrong with it
        keys = job.flow_keys
        return paused.holds(schedule.job.handler, job.version, (keys.concurrency_key, keys.rate_key, keys.fairness_key))
