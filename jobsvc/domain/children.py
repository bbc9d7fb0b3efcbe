"""Child jobs and durable sleep, as a handler sees them (`ctx.spawn`, `ctx.wait`,
`ctx.sleep`), independent of where the handler runs.

A handler that waits does not stay in memory: `ctx.wait` on unfinished children (or
`ctx.sleep`) raises `Parked`, which unwinds the handler; the executor or worker settles
the attempt as parked (no slot, no lease held), and the job runs again from the start
when it is due. That run *replays*: each spawn has a deterministic key (the handler's
own, or its ordinal among the attempt's spawns), so spawning again returns the child
made before, and `ctx.wait` on finished children returns their results at once; each
sleep has a key too, and the moment it ends is recorded when it starts, so a replayed
sleep that is over returns at once. Code before a wait runs again on each replay:
keep it deterministic, or idempotent (as any job's code should be, at-least-once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from jobsvc.domain.errors import NonRetryableError
from jobsvc.domain.jobs import Job, JobError, JobState, Payload, RetryPolicy


@dataclass(frozen=True, slots=True)
class ChildJob:
    """A child job a handler spawned: what `ctx.wait` takes."""

    id: str
    key: str
    handler: str


@dataclass(frozen=True, slots=True)
class ChildState:
    """Where a child job is: its state, and its result or error once finished."""

    id: str
    state: JobState
    result: Payload | None = None
    error: JobError | None = None

    @staticmethod
    def of(job: Job) -> ChildState:
        """The state of a stored job."""
        return ChildState(job.id, job.state, job.result, job.error)


@dataclass(frozen=True, slots=True)
class Spawn:
    """What `ctx.spawn` asks for: one child job, under `key`."""

    key: str
    handler: str
    input: Any = None
    version: str = ""
    priority: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    retry_policy: RetryPolicy | None = None
    attempt_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Park:
    """How a parked attempt waits: for the unfinished ones of `children`, or until
    `until` under the sleep key `sleep_key` (the first moment recorded under it wins)."""

    children: tuple[str, ...] = ()
    until: datetime | None = None
    sleep_key: str | None = None


class Parked(BaseException):
    """Raised by `ctx.wait`/`ctx.sleep` to unwind the handler: the attempt parks.

    A BaseException, so that a handler's `except Exception` does not swallow it."""

    def __init__(self, park: Park) -> None:
        super().__init__("parked")
        self.park = park


class ChildJobFailed(Exception):
    """Raised by `ctx.wait` when a child it waits for FAILED or was CANCELLED. Uncaught,
    it fails the parent's attempt (retried per policy: the replay finds the same child,
    so the same error, unless the child was redriven)."""

    def __init__(self, child: ChildJob, state: JobState, error: JobError | None) -> None:
        what = f"{error.type}: {error.message}" if error is not None else state.value
        super().__init__(f"child job {child.key!r} ({child.handler}, {child.id}) {state.value}: {what}")
        self.child = child
        self.state = state
        self.error = error


class SpawnRefused(NonRetryableError):
    """The server refused a spawn as it would refuse a Submit of the same job: an unknown
    handler or version (`code` NOT_FOUND), input the handler's schema rejects
    (INVALID_ARGUMENT). Uncaught, it fails the parent at once (not retryable)."""

    def __init__(self, message: str, *, code: str, reason: str = "", field_path: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.field_path = field_path


class Durable(Protocol):
    """Where a JobContext spawns and reads children and sleeps: the in-process executor
    (through the app) or a remote worker (over its Work stream). Bound to one attempt."""

    async def spawn(self, spawn: Spawn) -> ChildJob:
        """Submit the child durably, linked to the attempt's job under `spawn.key`; the
        child spawned before under that key when there is one. Raises SpawnRefused."""
        ...

    async def children(self, child_ids: Sequence[str]) -> list[ChildState]:
        """The job's children among child_ids, with their results."""
        ...

    async def sleeps(self) -> dict[str, datetime]:
        """The durable sleeps the job recorded, by key: when each ends."""
        ...


# A job's error type is its exception's module and name: these read as jobsvc.ChildJobFailed
# and jobsvc.SpawnRefused, where users import them from.
ChildJobFailed.__module__ = "jobsvc"
SpawnRefused.__module__ = "jobsvc"
