"""Jobs, their states, payloads, errors and events: the vocabulary every layer shares."""

from __future__ import annotations

import enum
import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from jobsvc.domain.flow import FlowControl, FlowKeys, WaitReason
from jobsvc.domain.values import JsonValue


class JobState(enum.StrEnum):
    """Where a job is in its life; the value is what the store keeps."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # A workflow step whose parents have not all finished (see domain/workflows.py).
    WAITING = "waiting"

    @property
    def terminal(self) -> bool:
        """True for the states a job never leaves."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class JobView(enum.Enum):
    """How much of a job a response carries (the API's JobView)."""

    # Everything but the payloads: no input or result, errors without their traceback.
    BASIC = "basic"
    FULL = "full"


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


def input_hash(value: Payload) -> str:
    """A stable digest of an input, for the result cache."""
    digest = hashlib.sha256()
    if value.is_proto:
        digest.update(b"proto\0" + (value.type_url or "").encode() + b"\0" + (value.data or b""))
    else:
        digest.update(b"json\0" + json.dumps(value.json, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class JobError:
    """What a handler raised: enough to tell a caller in another language what went wrong."""

    type: str
    message: str
    traceback: str = ""
    attempt: int = 0
    non_retryable: bool = False

    def to_json(self) -> dict[str, JsonValue]:
        """Plain dict for storage."""
        return {
            "type": self.type,
            "message": self.message,
            "traceback": self.traceback,
            "attempt": self.attempt,
            "non_retryable": self.non_retryable,
        }

    @classmethod
    def from_json(cls, value: dict[str, JsonValue]) -> JobError:
        """Inverse of to_json."""
        attempt = value.get("attempt", 0)
        return cls(
            type=str(value.get("type", "")),
            message=str(value.get("message", "")),
            traceback=str(value.get("traceback", "")),
            attempt=attempt if isinstance(attempt, int) else 0,
            non_retryable=value.get("non_retryable") is True,
        )


# Durations a request or a declaration sets are held to a century: every time derived from
# them (run_at + schedule-to-start timeout, now + execution timeout...) then stays far
# inside what Python's datetime and PostgreSQL's timestamptz represent, so a stored job
# can always be read back.
MAX_DURATION_SECONDS = 100 * 365.25 * 86400
MAX_DURATION_TEXT = "100 years"
DURATION_RANGE = f"must be between 0 and {MAX_DURATION_TEXT}"
MAX_ATTEMPTS_LIMIT = 1000
MAX_INT32 = 2**31 - 1


def _duration_fits(seconds: float | None) -> bool:
    """Unset, or between 0 (none: a Python declaration's 0 always meant that) and a
    century; NaN is neither."""
    return seconds is None or 0 <= seconds <= MAX_DURATION_SECONDS


def duration_problems(**durations: float | None) -> list[tuple[str, str]]:
    """(field, what is wrong) for each duration that is set but negative or over a century."""
    return [(name, DURATION_RANGE) for name, seconds in durations.items() if not _duration_fits(seconds)]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed attempts are retried; None fields mean "inherit" when used as an override."""

    initial_interval: float | None = None
    backoff_coefficient: float | None = None
    maximum_interval: float | None = None
    maximum_attempts: int | None = None
    non_retryable_error_types: tuple[str, ...] | None = None

    def over(self, base: RetryPolicy) -> RetryPolicy:
        """This policy's fields where set, else base's."""
        return RetryPolicy(
            initial_interval=_first(self.initial_interval, base.initial_interval),
            backoff_coefficient=_first(self.backoff_coefficient, base.backoff_coefficient),
            maximum_interval=_first(self.maximum_interval, base.maximum_interval),
            maximum_attempts=_first(self.maximum_attempts, base.maximum_attempts),
            non_retryable_error_types=_first(self.non_retryable_error_types, base.non_retryable_error_types),
        )

    def problems(self) -> list[tuple[str, str]]:
        """(field, what is wrong) for every field set to a value the store cannot hold or
        compute a backoff with; empty when none is. (A remote worker's declaration is held
        to more: 0 is "inherit" there, and attempts are at most MAX_ATTEMPTS_LIMIT.)"""
        found = [
            (name, DURATION_RANGE)
            for name in ("initial_interval", "maximum_interval")
            if not _duration_fits(getattr(self, name))
        ]
        coefficient = self.backoff_coefficient
        if coefficient is not None and not (math.isfinite(coefficient) and coefficient >= 0):
            found.append(("backoff_coefficient", "must be a finite number, not negative"))
        if self.maximum_attempts is not None and not 0 <= self.maximum_attempts <= MAX_INT32:
            found.append(("maximum_attempts", f"must be between 0 and {MAX_INT32}"))
        return found

    def to_json(self) -> dict[str, JsonValue]:
        """Set fields only."""
        out: dict[str, JsonValue] = {}
        for key in ("initial_interval", "backoff_coefficient", "maximum_interval", "maximum_attempts"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.non_retryable_error_types is not None:
            out["non_retryable_error_types"] = list(self.non_retryable_error_types)
        return out

    @classmethod
    def from_json(cls, value: JsonValue) -> RetryPolicy:
        """Inverse of to_json; anything malformed is ignored."""
        if not isinstance(value, dict):
            return cls()
        types = value.get("non_retryable_error_types")
        return cls(
            initial_interval=_number(value.get("initial_interval")),
            backoff_coefficient=_number(value.get("backoff_coefficient")),
            maximum_interval=_number(value.get("maximum_interval")),
            maximum_attempts=int(n) if (n := _number(value.get("maximum_attempts"))) is not None else None,
            non_retryable_error_types=tuple(str(t) for t in types) if isinstance(types, list) else None,
        )


# Three attempts, 1 s then 2 s apart: a default that rides out a blip without hiding a bug
# for long. Handlers and jobs override it.
DEFAULT_RETRY_POLICY = RetryPolicy(1.0, 2.0, 300.0, 3, ())
DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600.0


_T = TypeVar("_T")


def _first(value: _T | None, fallback: _T | None) -> _T | None:
    return value if value is not None else fallback


def _number(value: JsonValue) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


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
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    attempt_timeout: float | None = None
    execution_timeout: float | None = None
    schedule_to_start_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class NewJob:
    """A JobSpec whose version has been resolved and whose policy is settled, ready to insert."""

    spec: JobSpec
    version: str
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY
    attempt_timeout: float | None = None
    retention: float = DEFAULT_RETENTION_SECONDS
    input_hash: str | None = None
    # Answered from this earlier job's result (the handler's result cache) instead of running.
    cached_from: str | None = None
    flow_keys: FlowKeys = field(default_factory=FlowKeys)
    # The submit's W3C trace context, so the execution continues the caller's trace.
    trace_context: dict[str, str] | None = None


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
    max_attempts: int = 1
    attempt_errors: tuple[JobError, ...] = ()
    cached_from: str | None = None
    redrive_of: str | None = None
    # Why a queued job is not running (Get and List only), and the same for people.
    wait_reason: WaitReason = WaitReason.NONE
    waiting_reason: str = ""
    # Flow control keys rendered at submit (None: no such limit).
    concurrency_key: str | None = None
    rate_key: str | None = None
    fairness_key: str | None = None
    # The W3C trace context (traceparent, tracestate) of the submit, when tracing was on.
    trace_context: dict[str, str] | None = None


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
    RETRYING = "retrying"

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
class EventPage:
    """Some of a job's events after a sequence, read in one snapshot with the job's state
    and last sequence: when the job is finished, nothing after `last_seq` can come."""

    events: list[JobEvent]
    state: JobState
    last_seq: int


@dataclass(frozen=True, slots=True)
class Claim:
    """A job leased to one executor for one attempt; the token fences late writes."""

    job: Job
    attempt_token: str
    lease_deadline: datetime | None = None
    # When the attempt times out (its handler's or job's attempt_timeout), if it has one.
    attempt_deadline: datetime | None = None

    def lease_ran_out(self, now: datetime) -> bool:
        """Whether the lease was over by `now`. A claim's answer can arrive after its lease
        (a network that held it, a stalled process): the attempt is the lease rescuer's
        then, and starting it would run the job twice for nothing."""
        return self.lease_deadline is not None and self.lease_deadline <= now


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change the store just made to a job, with what metrics and logs need of it."""

    job_id: str
    handler: str
    version: str
    attempt: int
    # The new state: QUEUED when a failed attempt is retried.
    state: JobState
    # When the retry is due (state QUEUED).
    next_run_at: datetime | None = None
    # How long the attempt that just ended ran; None when no attempt ended (a queued job
    # past its deadline).
    attempt_seconds: float | None = None
    # Since the job was created: its end-to-end latency when the new state is terminal.
    job_seconds: float = 0.0

    @property
    def attempt_failed(self) -> bool:
        """True when an attempt ended in failure (retried, or the job is dead)."""
        return self.attempt_seconds is not None and self.state in (JobState.QUEUED, JobState.FAILED)


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Queued jobs of one handler, for the queue gauges."""

    handler: str
    due: int
    scheduled: int
    oldest_due_age: float


@dataclass(frozen=True, slots=True)
class LabelDepth:
    """Due queued jobs whose label `name` is `value`; value None is every value past the
    most queued ones, folded together (the metric's "other")."""

    name: str
    value: str | None
    due: int


@dataclass(frozen=True, slots=True)
class VersionStats:
    """The jobs of one handler version now and within a recent window, for dashboards."""

    handler: str
    version: str
    queued: int
    scheduled: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    oldest_queued_age: float
    # Queued jobs by why they wait (only reasons some job has): SCHEDULED and RETRY_BACKOFF
    # split `scheduled`; NO_WORKER, CONCURRENCY_LIMIT and RATE_LIMIT are part of `queued`.
    waiting: dict[WaitReason, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FinishedBucket:
    """The jobs that finished within one stretch of time, by outcome."""

    start: datetime
    succeeded: int
    failed: int
    cancelled: int


@dataclass(frozen=True, slots=True)
class RollupConfig:
    """How the finished jobs are rolled up into per-minute counts (the overview's source).

    A run counts the jobs finished up to lag_seconds ago, and before the start of any
    transaction still open (one open longer than stall_seconds is not waited for); it
    covers at most max_minutes of jobs; minutes older than keep_seconds (a day and a bit:
    the longest window the overview answers) are deleted. Runs pause while nothing changes."""

    lag_seconds: float = 5.0
    stall_seconds: float = 300.0
    max_minutes: int = 5
    keep_seconds: float = 25 * 3600.0
    # Runs stop once no job has changed (on any replica) for this long: an idle system
    # sends the database no roll-up statements (the idle-load figure of the benchmark).
    # Longer than the lag plus a maintenance interval, so the last seconds are rolled up.
    idle_after: float = 30.0


@dataclass(frozen=True, slots=True)
class HistoryMove:
    """One step of moving finished jobs to the history: how many of the jobs it walked
    moved (the others stay in the live table), and whether more were left to walk."""

    walked: int
    moved: int
    more: bool


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
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    attempt_timeout: float | None = None
    cache_ttl: float | None = None
    retention: float | None = None
    flow: FlowControl = field(default_factory=FlowControl)


def storable_text(text: str) -> str:
    """Text as it can be stored: PostgreSQL's text and jsonb cannot hold U+0000, which
    becomes U+FFFD (for messages and tracebacks, where losing it is better than failing)."""
    return text.replace("\x00", "\ufffd")


def contains_nul(value: JsonValue) -> bool:
    """True if a string (or a key) anywhere in a JSON value contains U+0000."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    if isinstance(value, dict):
        return any("\x00" in k or contains_nul(v) for k, v in value.items())
    return False


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
