"""The storage port: everything the use cases and executors need from the store, and
nothing more: the tables (JobStore) and the notifications between processes (Notifications).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Protocol

from jobsvc.domain.children import Park
from jobsvc.domain.errors import JobsvcError
from jobsvc.domain.jobs import (
    Claim,
    EventKind,
    EventPage,
    FinishedBucket,
    HandlerSpec,
    HistoryMove,
    Job,
    JobError,
    JobPage,
    JobState,
    LabelDepth,
    NewJob,
    Payload,
    QueueStats,
    RollupConfig,
    Transition,
    VersionStats,
)
from jobsvc.domain.operations import BulkAction, JobFilter, Operation
from jobsvc.domain.pauses import Pause, PauseTarget
from jobsvc.domain.schedules import Schedule
from jobsvc.domain.values import JsonValue
from jobsvc.domain.workers import WorkerSession
from jobsvc.domain.workflows import StepRedrive, StreamHead, Workflow, WorkflowEvent, WorkflowPage, WorkflowSpec


class JobStore(Protocol):
    """Durable jobs, their event logs and the handler registry.

    Every write that belongs to an attempt carries that attempt's token and is
    refused (returns None/False, changes nothing) when the token is stale.

    Methods that decide by the clock (what is due, whose lease or deadline has passed,
    what has outlived its retention) take `now`: None is the store's own clock (what
    production passes); a time lets a test run them an hour ahead without waiting.
    """

    async def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions applied now."""
        ...

    async def ping(self) -> None:
        """Raise Unavailable when the database cannot be reached."""
        ...

    async def mark_unreachable(self, problem: JobsvcError | None) -> None:
        """Health found the database unusable (why) or usable again (None): meanwhile
        every method fails at once with Unavailable, of the problem's message and reason."""
        ...

    async def handler_register(self, specs: Sequence[HandlerSpec]) -> None:
        """Insert or refresh handler versions (and mark them seen now)."""
        ...

    async def handler_touch(self, keys: Sequence[tuple[str, str]]) -> None:
        """Mark (name, version) pairs as served right now."""
        ...

    async def handler_list(self, name: str | None) -> list[HandlerSpec]:
        """Registered handler versions, optionally of one name."""
        ...

    async def job_insert_many(self, jobs: Sequence[NewJob]) -> list[tuple[Job, bool]]:
        """Insert jobs in one transaction; (job, created) in request order.

        A job whose idempotency key already exists with the same content gives the
        existing job and created=False; with different content, AlreadyExists and
        nothing of the batch is inserted.
        """
        ...

    async def job_insert(self, job: NewJob) -> tuple[Job, bool]:
        """Insert one job as job_insert_many does. Concurrent calls share INSERT
        transactions (group commit); one whose idempotency key was reused with other
        content fails alone."""
        ...

    async def job_insert_started(self, job: NewJob, owner: str, lease_seconds: float) -> tuple[Job, Claim | None]:
        """Insert one job (no idempotency key, due now, no flow control) and, when no due
        job of its version waits ahead of it (priority, then due time), start its first
        attempt for `owner` in the same statement: the claim, else None (the job is
        queued as job_insert would). The insert is not durable until a later durable
        commit: for a Call, which answers only after the job's outcome has committed."""
        ...

    async def job_find_cached(self, new: NewJob, ttl: float) -> str | None:
        """Id of a succeeded job with the same version and input finished within ttl seconds."""
        ...

    async def job_get(self, job_id: str, *, payloads: bool = True) -> Job | None:
        """One job, or None. payloads=False leaves input and result out (JSON null): for
        the BASIC view, which does not show them."""
        ...

    async def job_list(
        self,
        states: Sequence[JobState],
        handler: str | None,
        limit: int,
        cursor: tuple[datetime, str] | None,
        *,
        payloads: bool = True,
        labels: Mapping[str, str] | None = None,
        version: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> JobPage:
        """Newest first, keyset-paginated; payloads=False as in job_get; with labels, only
        jobs carrying every one of them; version None is any, and the creation range is
        [created_after, created_before) (None: unbounded)."""
        ...

    async def job_cancel(self, job_id: str, reason: str) -> Job:
        """Cancel a queued job or flag a running one; NotFound / FailedPrecondition otherwise."""
        ...

    async def job_redrive(
        self,
        job_ids: Sequence[str] | None,
        handler: str | None,
        version: str | None,
        limit: int,
    ) -> list[Job]:
        """Re-run dead-lettered (FAILED) jobs, by id or by handler, as new jobs; never a
        workflow step (RedriveWorkflowStep runs a step again inside its workflow)."""
        ...

    async def job_workflow_step(self, job_id: str) -> tuple[str, str] | None:
        """(workflow id, step name) of a job that is a workflow step; None for a plain job."""
        ...

    async def job_claim(
        self,
        served: Sequence[str],
        owner: str,
        limit: int,
        lease_seconds: float,
        *,
        limited: bool = True,
        now: datetime | None = None,
        paused_keys: Sequence[str] = (),
    ) -> list[Claim]:
        """Lease up to `limit` jobs due by `now` whose 'name@version' is in `served`, and
        none of whose flow-control keys is in `paused_keys`, in
        hand-out order (priority, then fair order), skipping jobs whose concurrency or rate
        limit is full: they stay queued in order and start when a slot or window opens.
        limited=False says no served version has flow control: a cheaper query does.
        The lease and attempt deadline run from `now`; rate windows keep the wall clock."""
        ...

    async def job_lease_extend(
        self,
        leases: Sequence[tuple[str, str]],
        lease_seconds: float,
    ) -> dict[str, tuple[bool, datetime]]:
        """Extend the leases of these attempts, by (job id, attempt token): {job id: (cancel
        requested, lease deadline)} of those still held. An attempt that was settled or
        rescued meanwhile is missing, so its holder learns its lease is gone."""
        ...

    async def job_lease_shorten(self, owner: str, grace_seconds: float) -> None:
        """Let an owner's leases run out after grace_seconds."""
        ...

    async def job_event_append(
        self,
        job_id: str,
        token: str,
        kind: EventKind,
        data: dict[str, JsonValue],
        payload: Payload | None = None,
    ) -> int | None:
        """Append a non-terminal event; its sequence number, or None for a stale token."""
        ...

    async def job_event_append_many(
        self,
        job_id: str,
        token: str,
        events: Sequence[tuple[EventKind, dict[str, JsonValue], Payload | None]],
    ) -> int | None:
        """Append several non-terminal events, in order, if `token` is the job's current
        attempt; the job's last sequence number, or None for a stale token."""
        ...

    async def job_finish(
        self,
        job_id: str,
        token: str,
        state: JobState,
        result: Payload | None = None,
        error: JobError | None = None,
    ) -> Transition | None:
        """End the attempt in a terminal state; None for a stale token."""
        ...

    async def job_fail_attempt(
        self,
        job_id: str,
        token: str,
        error: JobError,
        retry_delay: float | None = None,
    ) -> Transition | None:
        """The attempt failed: queued again per the retry policy, or FAILED; None for a stale token."""
        ...

    async def job_requeue(self, job_id: str, token: str, reason: str) -> bool:
        """Give a running attempt back to the queue; False for a stale token."""
        ...

    # -- child jobs and durable sleep --------------------------------------------------

    async def job_park(self, job_id: str, token: str, park: Park) -> tuple[JobState, datetime | None] | None:
        """Park a running attempt (ctx.wait, ctx.sleep): WAITING for its unfinished
        children, or QUEUED for when the sleep ends (or now, when nothing is left to wait
        for); the new state and, when QUEUED, its due time. None for a stale token."""
        ...

    async def job_spawn(self, parent_id: str, token: str, key: str, child: NewJob) -> tuple[str, str, bool] | None:
        """In one transaction: insert `child` linked to the parent under `key`, unless a
        child has that key already; (child id, its handler, whether it was inserted now).
        None when the parent's attempt holding `token` is not running any more."""
        ...

    async def job_children(self, parent_id: str, child_ids: Sequence[str]) -> list[Job]:
        """The parent's children among child_ids, with their results."""
        ...

    async def job_sleeps(self, job_id: str) -> dict[str, datetime]:
        """The durable sleeps a job recorded, by key: when each ends."""
        ...

    async def job_rescue_expired(self, limit: int, *, now: datetime | None = None) -> list[Transition]:
        """End attempts whose lease has expired by `now` as failed attempts (retried or FAILED)."""
        ...

    async def job_expire_deadlines(self, limit: int, *, now: datetime | None = None) -> list[Transition]:
        """Fail jobs past their execution or schedule-to-start deadline by `now`."""
        ...

    async def job_queue_stats(self) -> list[QueueStats]:
        """Queued jobs per handler: due, scheduled for later, age of the oldest due."""
        ...

    async def job_queue_depth_by_label(self, names: Sequence[str], max_values: int) -> list[LabelDepth]:
        """Due queued jobs per value of each label named: the max_values most queued
        values of each, the rest folded into value None."""
        ...

    async def job_stats_by_version(self, window_seconds: float) -> list[VersionStats]:
        """Per handler version: queued (due, scheduled), running, and finished within the window."""
        ...

    async def job_finished_timeline(self, window_seconds: float, bucket_seconds: float) -> list[FinishedBucket]:
        """Jobs finished within the window, per bucket of whole minutes (empty buckets left
        out), oldest first."""
        ...

    async def job_finished_rollup(self, config: RollupConfig) -> datetime | None:
        """Count the jobs finished since the last roll-up into per-minute rows (what the
        overview reads instead of the jobs themselves) and answer the new watermark: every
        job finished before it is counted. None when another replica is rolling up."""
        ...

    # -- the worker session directory ------------------------------------------------

    async def worker_session_put(self, session: WorkerSession) -> None:
        """Record a session that opened on this replica."""
        ...

    async def worker_session_refresh(self, in_flight: Sequence[tuple[str, int]], stale_seconds: float) -> None:
        """Refresh this replica's sessions (session id, jobs held) and delete the rows of
        any replica not refreshed within stale_seconds."""
        ...

    async def worker_session_delete(self, session_id: str) -> None:
        """Forget a session that ended."""
        ...

    async def worker_session_list(self, stale_seconds: float) -> list[WorkerSession]:
        """Sessions of every replica refreshed within stale_seconds, by worker name."""
        ...

    async def job_reap_finished(self, limit: int, *, now: datetime | None = None) -> int:
        """Delete jobs finished longer than their retention before `now`; how many."""
        ...

    async def job_history_move(self, history_after: float, limit: int, *, now: datetime | None = None) -> HistoryMove:
        """Move up to `limit` of the jobs finished longer than history_after seconds before
        `now` (and counted by the roll-up) to the history, with their events; the jobs
        something still finds in the live table stay. Does nothing while another replica moves."""
        ...

    async def job_history_drop(self, *, now: datetime | None = None) -> list[date]:
        """Drop the history's partitions whose day is over by `now` (the jobs in them are past
        their retention); the days dropped."""
        ...

    async def job_event_list(self, job_id: str, after_seq: int, limit: int) -> EventPage | None:
        """Up to `limit` of a job's events with seq > after_seq, in order, with the job's
        state and last sequence from the same snapshot; None when the job does not exist."""
        ...

    # -- schedules (see jobsvc.domain.schedules) ----------------------------------------

    async def workflow_insert(self, spec: WorkflowSpec, jobs: Sequence[NewJob]) -> str:
        """Insert a checked workflow in one transaction, jobs[i] being the job of
        spec.steps[i]: steps without parents queued, the others WAITING; the new id. Each
        waiting step is queued, with its input resolved, in the transaction that finishes
        its last parent (or cancelled, per its parents' failure policy)."""
        ...

    async def workflow_get(self, workflow_id: str, *, payloads: bool = False) -> Workflow | None:
        """A workflow with every step, read in one snapshot; the steps' jobs carry their
        payloads only when `payloads`. None when there is no such workflow."""
        ...

    async def workflow_list(self, limit: int, cursor: tuple[datetime, str] | None) -> WorkflowPage:
        """Up to `limit` workflows after `cursor` (created_at, id), newest first, without steps."""
        ...

    async def workflow_cancel(self, workflow_id: str, reason: str) -> bool:
        """Cancel the steps of a workflow that have not started and ask its running steps to
        stop; False when there is no such workflow."""
        ...

    async def workflow_step_redrive(self, workflow_id: str, step: str) -> StepRedrive:
        """Redrive a FAILED, required step of a workflow not cancelled, in one transaction:
        its job queued again, the dependants its failure cancelled waiting again."""
        ...

    async def workflow_events_stamp(self, workflow_id: str) -> StreamHead | None:
        """Number the workflow's step events not numbered yet, after its last number (one
        stamper at a time per workflow); None when there is no such workflow."""
        ...

    async def workflow_event_list(self, workflow_id: str, after_seq: int, limit: int) -> list[WorkflowEvent]:
        """Up to `limit` numbered events of a workflow after `after_seq`, in order."""
        ...

    async def schedule_create(self, schedule: Schedule, next_tick_at: datetime) -> Schedule:
        """Store a new schedule; AlreadyExists when the name is taken."""
        ...

    async def schedule_declare(self, schedule: Schedule, next_tick_at: datetime) -> Schedule | None:
        """Create or update a schedule declared in code; None when an API schedule has its name."""
        ...

    async def schedule_get(self, name: str) -> Schedule | None:
        """One schedule by name."""
        ...

    async def schedule_list(self) -> list[Schedule]:
        """Every schedule, by name."""
        ...

    async def schedule_set_paused(self, name: str, paused: bool, next_tick_at: datetime | None) -> Schedule | None:
        """Pause or resume (from next_tick_at); None when there is no such schedule."""
        ...

    async def schedule_delete(self, name: str) -> bool:
        """Delete a schedule; False when there was none."""
        ...

    async def operation_count(self, action: BulkAction, job_filter: JobFilter) -> int:
        """How many existing jobs the bulk action would act on now."""
        ...

    async def operation_insert(
        self, action: BulkAction, job_filter: JobFilter, matched: int, max_jobs_per_second: float, created_by: str
    ) -> Operation:
        """A new running operation, its cursor before every job that exists."""
        ...

    async def operation_get(self, operation_id: str) -> Operation | None:
        """One operation."""
        ...

    async def operation_list(self, limit: int) -> list[Operation]:
        """The newest operations."""
        ...

    async def operation_cancel(self, operation_id: str) -> Operation | None:
        """Stop a running operation; None when it is not running (or does not exist)."""
        ...

    async def operation_claim(self, owner: str, lease_seconds: float) -> Operation | None:
        """The oldest running operation no replica holds, now held by owner."""
        ...

    async def operation_batch(self, operation: Operation, limit: int) -> list[tuple[str, datetime]]:
        """The next jobs (id, created_at) the operation acts on, after its cursor."""
        ...

    async def operation_advance(
        self,
        operation: Operation,
        owner: str,
        done: int,
        cursor: tuple[datetime, str],
        *,
        finished: bool,
        lease_seconds: float,
    ) -> Operation | None:
        """Record a batch (one in flight at a cancel too); None when the operation is no longer owner's."""
        ...

    async def job_cancel_many(self, job_ids: Sequence[str], reason: str) -> int:
        """Cancel queued jobs at once and flag running ones; how many were either."""
        ...

    async def job_delete_many(self, job_ids: Sequence[str]) -> int:
        """Delete finished jobs and their events; how many."""
        ...

    async def pause_list(self) -> list[Pause]:
        """Every pause in force."""
        ...

    async def pause_set(self, target: PauseTarget, reason: str, paused_by: str) -> Pause:
        """Pause a handler, a version or a flow-control key; every replica is told at commit."""
        ...

    async def pause_clear(self, target: PauseTarget) -> Pause | None:
        """Resume; the pause that was in force, or None. Every replica is told at commit."""
        ...

    async def schedule_due(self, now: datetime, limit: int) -> list[Schedule]:
        """Unpaused schedules whose next tick is at or before now (the caller's clock)."""
        ...

    async def schedule_next_tick(self) -> datetime | None:
        """The earliest next tick of any unpaused schedule."""
        ...

    async def schedule_advance(
        self, name: str, from_tick: datetime, next_tick_at: datetime, tick: datetime | None, job_id: str | None
    ) -> bool:
        """Move a schedule from from_tick to next_tick_at; False when another replica did."""
        ...


class Notifications(Protocol):
    """What processes tell each other through the database, and how this process hears it.

    A notification carries no data: whoever is woken re-reads the tables, so a lost one
    costs at most a poll interval.
    """

    def subscribe(self, job_id: str, event: asyncio.Event | None = None) -> AbstractContextManager[asyncio.Event]:
        """An event set whenever job_id may have new events (written here or on any
        replica); the waiter clears it before re-reading. This is what wakes a waiting
        Call or Stream. Given `event`, that one is set (one event for many jobs)."""
        ...

    def due_signal(self) -> AbstractContextManager[asyncio.Event]:
        """An event of one claim loop's own, set whenever jobs may have become due (here
        or on another replica); the loop clears it before each claim."""
        ...

    def jobs_due(self, at: datetime | None) -> None:
        """Jobs were queued (submitted, retried, rescued, redriven); the earliest is due
        at `at` (now when None or past): every replica's claim loops are woken then."""
        ...

    def on_cancel(self, callback: Callable[[str], None]) -> None:
        """Call callback(job_id) when any replica asks to cancel a running job."""
        ...

    def notify_local(self, job_id: str) -> None:
        """Wake this process's waiters of job_id at once, without a database round trip."""
        ...

    def on_pauses_changed(self, callback: Callable[[], None]) -> None:
        """Call callback() when any replica pauses or resumes, and after the notification
        connection was lost (a change may have been missed)."""
        ...

    def quiet_for(self) -> float:
        """Seconds since this process last heard of a job changing, on any replica (inf:
        never since it started): how long the system has been idle, as far as it knows."""
        ...
