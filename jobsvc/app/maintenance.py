"""Replica-level housekeeping: every replica runs it, and SKIP LOCKED lets them all run
it at once without doing any piece of work twice.

- lease rescue: attempts whose lease ran out (dead executor or worker, hung attempt)
  end as failed attempts and are retried per their policy;
- deadlines: jobs past their execution or schedule-to-start deadline fail;
- history: finished jobs move from the live table to the history (partitioned by the day
  their retention ends) once finished for `history_after`, and retention drops the
  history's days that are over; the jobs that stay in the live table (see migration 0016)
  are deleted with their events once past their retention;
- the finished-jobs roll-up: the jobs finished since the last run are counted into
  per-minute rows (what the dashboard's overview reads), so that neither the overview nor
  the statements that finish jobs count the last hour's jobs.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from jobsvc.domain.jobs import RollupConfig, Transition
from jobsvc.observability.logs import job_fields, log_transition
from jobsvc.observability.metrics import Metrics
from jobsvc.store.port import JobStore
from jobsvc.supervisor import Supervisor

log = logging.getLogger("jobsvc.maintenance")


@dataclass(frozen=True)
class MaintenanceConfig:
    """How often each chore runs (seconds) and how much it does per run."""

    # A dead executor's jobs wait their lease (30 s) plus up to this long; it is also most of
    # the idle load on the database, so it is not shorter.
    rescue_interval: float = 10.0
    reap_interval: float = 60.0
    # A bulk operation whose replica died waits its lease (30 s) plus up to this long before
    # another replica carries it on (see app/operations.py).
    operation_takeover_interval: float = 30.0
    batch: int = 1000
    rollup: RollupConfig = field(default_factory=RollupConfig)
    # Finished jobs stay in the live table this long (a Get, Stream or Call right after a
    # job ends reads it there), then move to the history: the live table stays the size of
    # the work in hand plus this much, however long the history kept.
    history_after: float = 60.0
    # Jobs walked per transaction, and transactions per pass at most (a pass moves up to
    # 100,000 jobs: 10,000 jobs/s at the 10 s interval, more than one primary finishes).
    # Small transactions: a commit waits until the WAL before it is flushed, and 5,000
    # jobs' moves wrote about 10 MB of it at once, which put Calls' p99 at 170 ms.
    history_batch: int = 1000
    history_batches: int = 100
    # How often a replica looks for history partitions whose day is over (one catalog
    # query; a day's partition is dropped within this long after its day ends).
    history_drop_interval: float = 3600.0


class Maintenance:
    """Runs the chores on a jittered interval until stopped (a task of the Supervisor,
    so a pass that fails is logged and tried again)."""

    TASK = "maintenance"

    def __init__(
        self,
        store: JobStore,
        config: MaintenanceConfig,
        jobs_due: Callable[[datetime | None], None],
        supervisor: Supervisor,
        metrics: Metrics | None = None,
        *,
        quiet_for: Callable[[], float] | None = None,
    ) -> None:
        self._store = store
        # Seconds since a job last changed anywhere (Notifications.quiet_for); None: unknown,
        # so every pass rolls up.
        self._quiet_for = quiet_for
        self._metrics = metrics or Metrics()
        self.config = config
        self._jobs_due = jobs_due
        self._supervisor = supervisor
        self._next_reap = 0.0
        self._next_drop = 0.0

    def start(self) -> None:
        """Start the task."""
        loop = asyncio.get_running_loop()
        self._next_reap = loop.time() + self.config.reap_interval * random.random()
        self._next_drop = loop.time() + self.config.history_drop_interval * random.random()
        self._supervisor.start(self.TASK, self._round)

    async def stop(self) -> None:
        """Stop the task."""
        await self._supervisor.stop(self.TASK)

    async def run_once(self, *, reap: bool = True) -> tuple[list[str], list[str], int]:
        """One pass: (rescued ids, expired ids, reaped count)."""
        rescued = await self._store.job_rescue_expired(self.config.batch)
        expired = await self._store.job_expire_deadlines(self.config.batch)
        reaped = await self._store.job_reap_finished(self.config.batch) if reap else 0
        if self._rollup_due():
            await self._store.job_finished_rollup(self.config.rollup)
            # Only what the roll-up has counted moves, so only after it does.
            await self.move_to_history()
        for change in rescued:
            self._metrics.lease_rescued(change)
            self._log(change, "lease expired", "jobsvc.LeaseExpired")
        retries = [change.next_run_at for change in rescued if change.next_run_at is not None]
        if retries:
            # Every replica's claim loops, when the earliest retry is due (not now:
            # the retry waits out its backoff first).
            self._jobs_due(min(retries))
        for change in expired:
            self._metrics.transition(change)
            self._log(change, "past its deadline", "jobsvc.DeadlineExceeded")
        if reaped:
            log.info("deleted %d finished job(s) past their retention", reaped)
        return [c.job_id for c in rescued], [c.job_id for c in expired], reaped

    async def move_to_history(self) -> int:
        """Move the jobs finished longer than history_after ago to the history, a batch at
        a time while batches come full, up to history_batches; how many moved."""
        moved = 0
        for _ in range(self.config.history_batches):
            step = await self._store.job_history_move(self.config.history_after, self.config.history_batch)
            moved += step.moved
            if not step.more:
                break
        if moved:
            log.debug("moved %d finished job(s) to the history", moved)
        return moved

    async def drop_history(self) -> list[date]:
        """Drop the history's days that are over (their jobs are past their retention)."""
        dropped = await self._store.job_history_drop()
        if dropped:
            log.info(
                "dropped the history of %s: its jobs are past their retention",
                ", ".join(day.isoformat() for day in dropped),
            )
        return dropped

    def _rollup_due(self) -> bool:
        """Roll up while jobs change (here or on another replica), not on an idle system:
        its watermark could not move far, and the overview counts the jobs past the
        watermark itself, so the counts stay right meanwhile. (A replica that starts
        during work hears of it within a pass.)"""
        return self._quiet_for is None or self._quiet_for() < self.config.rollup.idle_after

    @staticmethod
    def _log(change: Transition, why: str, error_type: str) -> None:
        # Rescues and expiries are rare (a fault or a deadline): one line each, about the job.
        with job_fields(change.job_id, change.handler, change.version, change.attempt):
            log.warning("job %s: %s", change.job_id, why)
            log_transition(log, change, error_type)

    async def _round(self) -> None:
        # Jitter keeps replicas that started together from querying in lockstep.
        await asyncio.sleep(self.config.rescue_interval * random.uniform(0.8, 1.2))
        loop = asyncio.get_running_loop()
        reap = loop.time() >= self._next_reap
        await self.run_once(reap=reap)
        if reap:
            self._next_reap = loop.time() + self.config.reap_interval
        if loop.time() >= self._next_drop:
            await self.drop_history()
            self._next_drop = loop.time() + self.config.history_drop_interval
