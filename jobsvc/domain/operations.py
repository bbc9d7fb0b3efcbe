"""Bulk actions by filter, run as background operations: cancel, redrive or delete every
job a filter selects, in batches at a bounded rate, with progress and who started it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from jobsvc.domain.jobs import JobState
from jobsvc.domain.values import JsonValue

# Jobs per batch at most: one statement and one short transaction each.
MAX_BATCH = 500
DEFAULT_JOBS_PER_SECOND = 1000.0
# The largest share of its time an operation spends in its statements: after each batch it
# rests at least (1 - MAX_BUSY_SHARE) / MAX_BUSY_SHARE times as long as the batch took, so
# that whatever its rate limit it holds one database connection a fifth of the time at
# most, and backs off when the database is busy (its batches take longer, it rests longer).
MAX_BUSY_SHARE = 0.2


class BulkAction(enum.StrEnum):
    """What an operation does to each job it selects (only to jobs it applies to)."""

    CANCEL = "cancel"  # queued and running jobs, and waiting workflow steps
    REDRIVE = "redrive"  # dead-lettered (failed, not redriven) jobs
    DELETE = "delete"  # finished jobs, with their events


class OperationState(enum.StrEnum):
    """Where an operation is."""

    DRY_RUN = "dry_run"  # counted only; never stored
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class JobFilter:
    """Which jobs: every condition given must hold."""

    states: tuple[JobState, ...] = ()
    handler: str = ""
    version: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    flow_key: str = ""
    created_after: datetime | None = None
    created_before: datetime | None = None

    def to_json(self) -> dict[str, JsonValue]:
        """As jobsvc_job_selected reads it (conditions not given are left out)."""
        out: dict[str, JsonValue] = {}
        if self.states:
            out["states"] = [s.value for s in self.states]
        for name in ("handler", "version", "flow_key"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.created_after is not None:
            out["created_after"] = self.created_after.isoformat()
        if self.created_before is not None:
            out["created_before"] = self.created_before.isoformat()
        return out


@dataclass(frozen=True)
class Operation:
    """A bulk action and how far it got."""

    id: str
    action: BulkAction
    filter: JsonValue
    state: OperationState
    matched: int
    processed: int
    max_jobs_per_second: float
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    # The last job acted on (created_at, id): the next batch starts after it.
    cursor: tuple[datetime, str] | None = None
