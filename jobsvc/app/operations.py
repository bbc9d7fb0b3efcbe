"""Bulk actions by filter as background operations: cancel, redrive or delete every job a
filter selects, without a round trip per job and without one giant transaction.

Starting one counts the jobs it selects (a dry run stops there) and stores it; a task on
every replica (`Operations.run`) takes the oldest running operation nobody holds and
works through it in batches of at most MAX_BATCH jobs, newest first from the moment it
started (jobs created later, redriven ones too, are not touched), each batch one
statement, then sleeps so as to stay under the operation's jobs-per-second limit, and at
least four times as long as the batch took (MAX_BUSY_SHARE): the hot path keeps the
database, the more so when it is busy. After each batch it saves the cursor and the count
processed, and extends its lease: a replica that dies leaves the rest to another after
the lease, which goes on from the cursor. Every action only touches jobs it applies to
at that moment, so a batch done twice changes nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from jobsvc.domain.errors import FieldViolation, InvalidArgument, NotFound
from jobsvc.domain.operations import (
    DEFAULT_JOBS_PER_SECOND,
    MAX_BATCH,
    MAX_BUSY_SHARE,
    BulkAction,
    JobFilter,
    Operation,
    OperationState,
)
from jobsvc.store.port import JobStore
from jobsvc.supervisor import Supervisor

log = logging.getLogger("jobsvc.operations")

CANCEL_REASON = "bulk cancel (operation {id})"
# How often a watched operation's row is read (StreamOperation).
WATCH_INTERVAL = 0.5


class Operations:
    """Start, read and cancel bulk operations; run them (one task per replica)."""

    TASK = "operations"
    # A replica holds an operation this long past its last batch.
    LEASE_SECONDS = 30.0

    def __init__(
        self, store: JobStore, owner: str, jobs_due: Callable[[datetime | None], None], *, poll_interval: float
    ) -> None:
        self._store = store
        # A running operation nobody holds (its replica died: its lease ran out) is looked
        # for this often; one started here runs at once. Slow by default: it is a statement
        # every replica makes even when no operation exists.
        self._poll_interval = poll_interval
        self._owner = owner
        self._jobs_due = jobs_due
        self._started = asyncio.Event()

    def start(self, supervisor: Supervisor) -> None:
        """Run operations on this replica (a task of the supervisor)."""
        supervisor.start(self.TASK, self._round, critical=False)

    async def begin(
        self,
        action: BulkAction,
        job_filter: JobFilter,
        *,
        dry_run: bool,
        max_jobs_per_second: float,
        created_by: str,
    ) -> Operation:
        """Count the jobs the action would touch; unless dry_run, start it."""
        if max_jobs_per_second < 0:
            raise InvalidArgument(
                "max_jobs_per_second must be positive (0: the default)",
                [FieldViolation("max_jobs_per_second", "must be positive")],
            )
        rate = max_jobs_per_second or DEFAULT_JOBS_PER_SECOND
        matched = await self._store.operation_count(action, job_filter)
        if dry_run:
            now = datetime.now(UTC)
            return Operation(
                "", action, job_filter.to_json(), OperationState.DRY_RUN, matched, 0, rate, created_by, now, now
            )
        operation = await self._store.operation_insert(action, job_filter, matched, rate, created_by)
        self._started.set()  # this replica looks for it at once
        log.info("operation %s: %s of %d jobs started by %r", operation.id, action.value, matched, created_by)
        return operation

    async def get(self, operation_id: str) -> Operation:
        """One operation, or NotFound."""
        found = await self._store.operation_get(operation_id)
        if found is None:
            raise _not_found(operation_id)
        return found

    async def watch(self, operation_id: str, *, interval: float = WATCH_INTERVAL) -> AsyncIterator[Operation]:
        """The operation now, then each change of its state or progress, until it is no
        longer running. Reads its row every `interval` seconds: the batches already save
        their progress after each commit, so a watcher adds one primary-key read per
        interval and nothing to the batches or the hot path."""
        operation = await self.get(operation_id)
        yield operation
        while operation.state is OperationState.RUNNING:
            await asyncio.sleep(interval)
            now = await self.get(operation_id)
            if (now.state, now.matched, now.processed) != (operation.state, operation.matched, operation.processed):
                yield now
            operation = now

    async def recent(self, limit: int = 100) -> list[Operation]:
        """The newest operations."""
        return await self._store.operation_list(limit)

    async def cancel(self, operation_id: str) -> Operation:
        """Stop a running operation after its batch in flight; a finished one as it is."""
        cancelled = await self._store.operation_cancel(operation_id)
        return cancelled if cancelled is not None else await self.get(operation_id)

    async def _round(self) -> None:
        operation = await self._store.operation_claim(self._owner, self.LEASE_SECONDS)
        if operation is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._started.wait(), self._poll_interval)
            self._started.clear()
            return
        await self.run(operation)

    async def run(self, operation: Operation) -> Operation:
        """Work through a held operation until it is done, cancelled or taken over."""
        batch = max(1, min(MAX_BATCH, int(operation.max_jobs_per_second)))
        began, done_here = time.monotonic(), 0
        current: Operation | None = operation
        while current is not None and current.state is OperationState.RUNNING:
            batch_began = time.monotonic()
            jobs = await self._store.operation_batch(current, batch)
            done = await self._act(current, [job_id for job_id, _ in jobs])
            cursor = (jobs[-1][1], jobs[-1][0]) if jobs else current.cursor
            assert cursor is not None
            current = await self._store.operation_advance(
                current, self._owner, done, cursor, finished=len(jobs) < batch, lease_seconds=self.LEASE_SECONDS
            )
            done_here += len(jobs)
            # The rate limit: never ahead of max_jobs_per_second since this replica began;
            # and busy MAX_BUSY_SHARE of the time at most.
            now = time.monotonic()
            ahead = done_here / operation.max_jobs_per_second - (now - began)
            rest = max(ahead, (now - batch_began) * (1 - MAX_BUSY_SHARE) / MAX_BUSY_SHARE)
            if current is not None and current.state is OperationState.RUNNING:
                await asyncio.sleep(rest)
        final = current or await self.get(operation.id)
        log.info("operation %s: %s, %d of %d jobs", final.id, final.state.value, final.processed, final.matched)
        return final

    async def _act(self, operation: Operation, job_ids: list[str]) -> int:
        if not job_ids:
            return 0
        match operation.action:
            case BulkAction.CANCEL:
                return await self._store.job_cancel_many(job_ids, CANCEL_REASON.format(id=operation.id))
            case BulkAction.REDRIVE:
                redriven = await self._store.job_redrive(job_ids, None, None, len(job_ids))
                if redriven:
                    self._jobs_due(None)
                return len(redriven)
            case BulkAction.DELETE:
                return await self._store.job_delete_many(job_ids)


def _not_found(operation_id: str) -> NotFound:
    return NotFound(
        f"operation {operation_id} does not exist",
        reason="OPERATION_NOT_FOUND",
        resource_type="operation",
        resource_name=operation_id,
    )
