"""Jobs, their states, payloads, errors and events: the vocabulary every layer shares."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"


class JobState(enum.StrEnum):
    """Where a job is in its life; the value is what the store keeps."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """True for the states a job never leaves."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


@dataclass(frozen=True, slots=True)
class Payload:
    """A JSON value, or a typed protobuf message kept as (type URL, serialized bytes).

    The domain never parses protobuf bytes: only the API layer and handlers that
    declare a message type do.
    """

    json: JsonValue = None
    type_url: str | None = None
    data: bytes | None = None

    @property
    def is_proto(self) -> bool:
        """True when this carries a protobuf message rather than JSON."""
        return self.type_url is not None

    @property
    def type_name(self) -> str | None:
        """Full protobuf type name from the type URL (`type.googleapis.com/a.B` gives `a.B`)."""
        return None if self.type_url is None else self.type_url.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class JobError:
    """What a handler raised: enough to tell a caller in another language what went wrong."""

    type: str
    message: str
    traceback: str = ""
    attempt: int = 0

    def to_json(self) -> dict[str, JsonValue]:
        """Plain dict for storage."""
        return {"type": self.type, "message": self.message, "traceback": self.traceback, "attempt": self.attempt}

    @classmethod
    def from_json(cls, value: dict[str, JsonValue]) -> JobError:
        """Inverse of to_json."""
        attempt = value.get("attempt", 0)
        return cls(
            type=str(value.get("type", "")),
            message=str(value.get("message", "")),
            traceback=str(value.get("traceback", "")),
            attempt=attempt if isinstance(attempt, int) else 0,
        )


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A caller's request to run a handler; validated before it reaches the store."""

    handler: str
    version_selector: str
    input: Payload
    priority: int = 0
    idempotency_key: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    run_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewJob:
    """A JobSpec whose version has been resolved, ready to insert."""

    spec: JobSpec
    version: str


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored."""

    id: str
    handler: str
    version_selector: str
    version: str
    state: JobState
    input: Payload
    result: Payload | None
    error: JobError | None
    attempt: int
    priority: int
    idempotency_key: str | None
    labels: dict[str, str]
    created_at: datetime
    run_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested: bool
    last_seq: int
    progress_percent: float | None
    progress_message: str | None


class EventKind(enum.StrEnum):
    """Kinds of entries in a job's event log; the value is what the store keeps."""

    QUEUED = "queued"
    STARTED = "started"
    PROGRESS = "progress"
    PARTIAL_OUTPUT = "partial_output"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REQUEUED = "requeued"

    @property
    def terminal(self) -> bool:
        """True for the kinds that end a job's log."""
        return self in (EventKind.SUCCEEDED, EventKind.FAILED, EventKind.CANCELLED)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One entry of a job's ordered event log.

    `data` holds the kind's small fields (attempt, percent, message, error, reason);
    `payload` the partial output or result.
    """

    job_id: str
    seq: int
    kind: EventKind
    time: datetime
    data: dict[str, JsonValue]
    payload: Payload | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """A job leased to one executor for one attempt; the token fences late writes."""

    job: Job
    attempt_token: str


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of a job listing."""

    jobs: list[Job]
    next_cursor: tuple[datetime, str] | None


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """A handler version as registered in the store, for routing, validation and discovery."""

    name: str
    version: str
    description: str = ""
    input_schema: dict[str, JsonValue] | None = None
    output_schema: dict[str, JsonValue] | None = None
    input_type: str = ""
    output_type: str = ""
    online: bool = False


def integral_numbers_as_int(value: JsonValue) -> JsonValue:
    """JSON numbers cross protobuf as doubles; give back 42, not 42.0, where the
    number is integral, as a JSON parser would."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [integral_numbers_as_int(v) for v in value]
    if isinstance(value, dict):
        return {k: integral_numbers_as_int(v) for k, v in value.items()}
    return value
