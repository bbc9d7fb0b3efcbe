"""Protobuf messages to domain objects: what clients and workers send, validated.

Incoming messages are validated here, field by field, so that every bad request
is answered with the path of each bad field (`jobs[3].input`). The other direction
is jobsvc.codec.encode.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import struct_pb2

from jobsvc.codec.encode import state_to_proto
from jobsvc.domain.children import ChildState, Park
from jobsvc.domain.errors import FieldViolation, InvalidArgument
from jobsvc.domain.flow import ConcurrencyLimit, Fairness, FlowControl, RateLimit
from jobsvc.domain.handlers import NAME_PATTERN
from jobsvc.domain.jobs import (
    MAX_ATTEMPTS_LIMIT,
    MAX_DURATION_SECONDS,
    MAX_DURATION_TEXT,
    HandlerSpec,
    JobError,
    JobSpec,
    JobState,
    JobView,
    Payload,
    RetryPolicy,
)
from jobsvc.domain.operations import BulkAction, JobFilter
from jobsvc.domain.schedules import MissedTicks, Schedule, Timing, WhilePaused
from jobsvc.domain.schemas import InvalidSchema, check_schema
from jobsvc.domain.values import JsonValue
from jobsvc.domain.versions import InvalidVersion, InvalidVersionSelector, Version, VersionSelector
from jobsvc.domain.workers import MAX_CONCURRENCY, MAX_LEASE_SECONDS, MAX_WORKER_ID, MIN_LEASE_SECONDS, Worker
from jobsvc.v1 import (
    ack_service_pb2,
    children_pb2,
    job_pb2,
    job_service_pb2,
    operation_service_pb2,
    schedule_service_pb2,
)

MAX_IDEMPOTENCY_KEY = 256
MAX_LABELS = 32
MAX_LABEL_BYTES = 256
MAX_PRIORITY = 1000
# Selectors are short ("^2", ">=1.2 <2"); the bound keeps every job's fields small
# (see jobsvc.domain.limits).
MAX_VERSION_SELECTOR = 1024

_STATE_FROM_PROTO = {state_to_proto(state): state for state in JobState}
_VIEW_FROM_PROTO: dict[int, JobView] = {
    job_service_pb2.JOB_VIEW_UNSPECIFIED: JobView.FULL,
    job_service_pb2.JOB_VIEW_BASIC: JobView.BASIC,
    job_service_pb2.JOB_VIEW_FULL: JobView.FULL,
}
_HANDLER_NAME = re.compile(NAME_PATTERN)
# A protobuf message's full name (package and nested names), as Payload type URLs end.
_MESSAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
MAX_MESSAGE_NAME = 512


class _Violations:
    """Collects every problem of a request before failing, so callers fix them all at once."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def raise_if_any(self, what: str) -> None:
        if self.items:
            first = self.items[0]
            more = f" (and {len(self.items) - 1} more)" if len(self.items) > 1 else ""
            raise InvalidArgument(f"invalid {what}: {first.field}: {first.description}{more}", self.items)


def payload_from_proto(message: job_pb2.Payload, path: str = "payload") -> Payload:
    """A request payload; an unset payload is JSON null."""
    kind = message.WhichOneof("kind")
    if kind == "proto":
        return Payload(type_url=message.proto.type_url, data=message.proto.value)
    if kind == "json":
        try:
            return Payload(json=json_from_value(message.json))
        except ValueError as exc:
            raise InvalidArgument(f"invalid {path}: {exc}", [FieldViolation(path, str(exc))]) from None
    return Payload(json=None)


def json_from_value(value: struct_pb2.Value) -> JsonValue:
    """A google.protobuf.Value as the JSON value it stands for; numbers that are whole come
    back as int (42, not 42.0), as a JSON parser would give them. ValueError for NaN and
    infinities, which JSON cannot carry. (json_format.MessageToDict does the same, several
    times slower: this is on every Submit.)"""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
        if math.isfinite(number):
            return number
        raise ValueError(f"{number} is not a JSON number")
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {key: json_from_value(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [json_from_value(item) for item in value.list_value.values]
    return None


def job_spec_from_proto(message: job_pb2.JobSpec, path: str, now: datetime | None = None) -> JobSpec:
    """Validate and convert one JobSpec; `path` prefixes field names in errors."""
    problems = _Violations()
    _check_spec_fields(message, path, problems)
    run_at = _run_at(message, path, problems, now or datetime.now(UTC))
    policy = retry_policy_from_proto(message.retry_policy, f"{path}.retry_policy", problems)
    timeouts = {
        name: _positive_seconds(message, name, path, problems)
        for name in ("attempt_timeout", "execution_timeout", "schedule_to_start_timeout")
    }
    problems.raise_if_any("job")
    return JobSpec(
        handler=message.handler,
        version_selector=message.version.strip(),
        input=payload_from_proto(message.input, f"{path}.input"),
        priority=message.priority,
        idempotency_key=message.idempotency_key or None,
        labels=dict(message.labels),
        run_at=run_at,
        retry_policy=policy,
        attempt_timeout=timeouts["attempt_timeout"],
        execution_timeout=timeouts["execution_timeout"],
        schedule_to_start_timeout=timeouts["schedule_to_start_timeout"],
    )


# Durations and times a request sets are held to a century (see MAX_DURATION_SECONDS).
TOO_LONG = f"at most {MAX_DURATION_TEXT}"


def _positive_seconds(message: Any, name: str, path: str, problems: _Violations) -> float | None:
    """An optional Duration field in seconds; it must be positive when set, and at most a century."""
    if not message.HasField(name):
        return None
    seconds = float(getattr(message, name).ToTimedelta().total_seconds())
    if seconds <= 0:
        problems.add(f"{path}.{name}", "must be positive")
        return None
    if seconds > MAX_DURATION_SECONDS:
        problems.add(f"{path}.{name}", TOO_LONG)
        return None
    return seconds


def delay_seconds(message: Any, field: str) -> float:
    """A delay (a Duration) in seconds, negative meaning none; InvalidArgument past a century."""
    seconds = float(message.ToTimedelta().total_seconds())
    if seconds > MAX_DURATION_SECONDS:
        raise InvalidArgument(f"{field} must be at most 100 years", [FieldViolation(field, TOO_LONG)])
    return max(0.0, seconds)


def retry_policy_from_proto(message: job_pb2.RetryPolicy, path: str, problems: _Violations) -> RetryPolicy:
    """A retry policy override; unset (zero) fields inherit."""
    coefficient = message.backoff_coefficient
    if coefficient and coefficient < 1:
        problems.add(f"{path}.backoff_coefficient", "must be at least 1")
    if not 0 <= message.maximum_attempts <= MAX_ATTEMPTS_LIMIT:
        problems.add(f"{path}.maximum_attempts", f"must be 1..{MAX_ATTEMPTS_LIMIT} (0: inherit)")
    return RetryPolicy(
        initial_interval=_positive_seconds(message, "initial_interval", path, problems),
        backoff_coefficient=coefficient or None,
        maximum_interval=_positive_seconds(message, "maximum_interval", path, problems),
        maximum_attempts=message.maximum_attempts or None,
        non_retryable_error_types=tuple(message.non_retryable_error_types) or None,
    )


def _check_spec_fields(message: job_pb2.JobSpec, path: str, problems: _Violations) -> None:
    if not message.handler:
        problems.add(f"{path}.handler", "required")
    elif not _HANDLER_NAME.match(message.handler):
        problems.add(f"{path}.handler", f"must match {NAME_PATTERN}")
    if len(message.version) > MAX_VERSION_SELECTOR:
        problems.add(f"{path}.version", f"at most {MAX_VERSION_SELECTOR} characters")
    else:
        try:
            VersionSelector.parse(message.version)
        except InvalidVersionSelector as exc:
            problems.add(f"{path}.version", str(exc))
    if message.input.WhichOneof("kind") == "proto" and not message.input.proto.type_url:
        problems.add(f"{path}.input.proto.type_url", "required for a protobuf payload")
    if abs(message.priority) > MAX_PRIORITY:
        problems.add(f"{path}.priority", f"must be between -{MAX_PRIORITY} and {MAX_PRIORITY}")
    if len(message.idempotency_key.encode()) > MAX_IDEMPOTENCY_KEY:
        problems.add(f"{path}.idempotency_key", f"at most {MAX_IDEMPOTENCY_KEY} bytes")
    _check_labels(message.labels, f"{path}.labels", problems)


def _check_labels(labels: Mapping[str, str], path: str, problems: _Violations) -> None:
    if len(labels) > MAX_LABELS:
        problems.add(path, f"at most {MAX_LABELS} labels")
    for key, value in labels.items():
        if not key or len(key.encode()) > MAX_LABEL_BYTES or len(value.encode()) > MAX_LABEL_BYTES:
            problems.add(f"{path}[{key!r}]", f"keys must be non-empty; keys and values at most {MAX_LABEL_BYTES} bytes")


def _run_at(message: job_pb2.JobSpec, path: str, problems: _Violations, now: datetime) -> datetime | None:
    has_run_at, has_delay = message.HasField("run_at"), message.HasField("delay")
    if has_run_at and has_delay:
        problems.add(f"{path}.delay", "set run_at or delay, not both")
        return None
    if has_delay:
        delay = message.delay.ToTimedelta()
        if delay < timedelta(0):
            problems.add(f"{path}.delay", "must not be negative")
            return None
        if delay.total_seconds() > MAX_DURATION_SECONDS:
            problems.add(f"{path}.delay", TOO_LONG)
            return None
        return now + delay
    if has_run_at:
        try:
            run_at = message.run_at.ToDatetime(tzinfo=UTC)
        except (ValueError, OverflowError) as exc:
            problems.add(f"{path}.run_at", f"not a valid timestamp: {exc}")
            return None
        if (run_at - now).total_seconds() > MAX_DURATION_SECONDS:
            problems.add(f"{path}.run_at", f"{TOO_LONG} from now")
            return None
        return run_at
    return None


def job_id_from_request(value: str, field: str) -> str:
    """A job id as the store expects it (canonical UUID text)."""
    if not value:
        raise InvalidArgument(f"{field} is required", [FieldViolation(field, "required")])
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidArgument(f"{field} {value!r} is not a job id", [FieldViolation(field, "must be a UUID")]) from None


def lease_ref_from_request(job_id: str, token: str, path: str) -> tuple[str, str]:
    """The (job id, attempt token) a worker names, both as the store expects them."""
    job_id = job_id_from_request(job_id, f"{path}.job_id")
    try:
        return job_id, str(uuid.UUID(token))
    except ValueError:
        raise InvalidArgument(
            f"{path}.attempt_token is not a token this server issued",
            [FieldViolation(f"{path}.attempt_token", "must be the attempt_token of an assignment")],
        ) from None


def child_state_from_proto(message: job_pb2.Job) -> ChildState:
    """A child job as ctx.wait reads it (from a ChildrenResponse, FULL view)."""
    state = _STATE_FROM_PROTO.get(message.state, JobState.QUEUED)
    result = payload_from_proto(message.result, "result") if message.HasField("result") else None
    error = error_from_proto(message.error) if message.HasField("error") else None
    return ChildState(message.id, state, result, error)


def park_from_proto(message: children_pb2.ParkRequest, path: str) -> Park:
    """How a worker's attempt parks: for its children (ids), or until a time under a sleep key."""
    children = tuple(job_id_from_request(c, f"{path}.child_job_ids[{i}]") for i, c in enumerate(message.child_job_ids))
    if bool(children) == bool(message.sleep_key):
        raise InvalidArgument(
            f"{path}: give child_job_ids or sleep_key (with until), one of them",
            [FieldViolation(f"{path}.sleep_key", "set exactly one of child_job_ids and sleep_key")],
        )
    if not message.sleep_key:
        return Park(children=children)
    if not message.HasField("until"):
        raise InvalidArgument(f"{path}.until is required with sleep_key", [FieldViolation(f"{path}.until", "required")])
    return Park(until=message.until.ToDatetime(UTC), sleep_key=message.sleep_key)


def states_from_proto(values: Any, field: str) -> list[JobState]:
    """Job states of a list filter."""
    states: list[JobState] = []
    for index, value in enumerate(values):
        state = _STATE_FROM_PROTO.get(value)
        if state is None:
            raise InvalidArgument(
                f"{field}[{index}] is not a job state", [FieldViolation(f"{field}[{index}]", "unknown state")]
            )
        states.append(state)
    return states


def label_filter_from_proto(labels: Mapping[str, str], field: str) -> dict[str, str] | None:
    """A list filter's labels (every one must match), checked as a job's labels are; None for none."""
    problems = _Violations()
    _check_labels(labels, field, problems)
    problems.raise_if_any("label filter")
    return dict(labels) or None


def created_range_from_proto(request: job_service_pb2.ListJobsRequest) -> tuple[datetime | None, datetime | None]:
    """A ListJobsRequest's [created_after, created_before) (None: unbounded); INVALID_ARGUMENT
    for a timestamp out of range or a range whose end is not after its start."""
    bounds: list[datetime | None] = []
    problems = _Violations()
    for name in ("created_after", "created_before"):
        if not request.HasField(name):
            bounds.append(None)
            continue
        try:
            bounds.append(getattr(request, name).ToDatetime(tzinfo=UTC))
        except (ValueError, OverflowError) as exc:
            problems.add(name, f"not a valid timestamp: {exc}")
            bounds.append(None)
    after, before = bounds
    if after is not None and before is not None and before <= after:
        problems.add("created_before", "must be after created_after")
    problems.raise_if_any("creation time range")
    return after, before


def view_from_proto(value: int, field: str) -> JobView:
    """A request's JobView; unspecified is FULL (what every release before views returned)."""
    view = _VIEW_FROM_PROTO.get(value)
    if view is None:
        raise InvalidArgument(f"{field} {value} is not a job view", [FieldViolation(field, "unknown view")])
    return view


def decode_page_token(token: str, field: str) -> tuple[datetime, str] | None:
    """Inverse of jobsvc.codec.encode.encode_page_token; INVALID_ARGUMENT for anything we did not issue."""
    if not token:
        return None
    try:
        created, job_id = base64.urlsafe_b64decode(token.encode()).decode().split("|")
        return datetime.fromisoformat(created), str(uuid.UUID(job_id))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidArgument(
            "page_token is not one this server issued", [FieldViolation(field, "malformed page token")]
        ) from None


def error_from_proto(message: job_pb2.JobError) -> JobError:
    """A worker's error report."""
    return JobError(
        type=message.type or "Error",
        message=message.message,
        traceback=message.traceback,
        non_retryable=message.non_retryable,
    )


def flow_from_proto(message: job_pb2.FlowControl, path: str, problems: _Violations) -> FlowControl:
    """A handler's flow control from a worker's hello; unset parts are absent."""
    concurrency = rate = fairness = None
    if message.HasField("concurrency"):
        concurrency = ConcurrencyLimit(message.concurrency.max_running, message.concurrency.key or "{handler}")
    if message.HasField("rate"):
        period = message.rate.period.ToTimedelta().total_seconds() if message.rate.HasField("period") else 1.0
        rate = RateLimit(message.rate.max_starts, period, message.rate.key or "{handler}")
    if message.HasField("fairness"):
        spacing = (
            message.fairness.spacing.ToTimedelta().total_seconds() if message.fairness.HasField("spacing") else 1.0
        )
        fairness = Fairness(message.fairness.key, spacing)
    flow = FlowControl(concurrency, rate, fairness)
    for field, description in flow.problems():
        problems.add(f"{path}.{field}", description)
    return flow


def handler_from_proto(message: job_pb2.HandlerInfo, path: str) -> HandlerSpec:
    """A handler version a remote worker declares; the version must be exact."""
    problems = _Violations()
    if not _HANDLER_NAME.match(message.name):
        problems.add(f"{path}.name", f"must match {NAME_PATTERN}")
    try:
        version = str(Version.parse(message.version))
    except InvalidVersion as exc:
        problems.add(f"{path}.version", f"must be an exact semantic version: {exc}")
        version = message.version
    policy = retry_policy_from_proto(message.retry_policy, f"{path}.retry_policy", problems)
    timeouts = {
        name: _positive_seconds(message, name, path, problems) for name in ("attempt_timeout", "cache_ttl", "retention")
    }
    flow = flow_from_proto(message.flow_control, f"{path}.flow_control", problems)
    schemas = {name: _schema(message, name, path, problems) for name in ("input_schema", "output_schema")}
    for name in ("input_type", "output_type"):
        type_name = getattr(message, name)
        if type_name and (len(type_name) > MAX_MESSAGE_NAME or not _MESSAGE_NAME.match(type_name)):
            problems.add(f"{path}.{name}", "must be the full name of a protobuf message (acme.v1.Image), or empty")
    problems.raise_if_any("handler")
    return HandlerSpec(
        name=message.name,
        version=version,
        description=message.description,
        input_schema=schemas["input_schema"],
        output_schema=schemas["output_schema"],
        input_type=message.input_type,
        output_type=message.output_type,
        retry_policy=policy,
        attempt_timeout=timeouts["attempt_timeout"],
        cache_ttl=timeouts["cache_ttl"],
        retention=timeouts["retention"],
        flow=flow,
    )


def worker_from_proto(message: ack_service_pb2.WorkerInfo, path: str, default_lease: float) -> Worker:
    """A worker's declaration (its hello, or a Lease's worker); its lease length is
    `default_lease` when unset, and held within MIN_LEASE_SECONDS..MAX_LEASE_SECONDS."""
    problems: list[FieldViolation] = []
    if not message.worker_id or len(message.worker_id) > MAX_WORKER_ID:
        problems.append(FieldViolation(f"{path}.worker_id", f"required, at most {MAX_WORKER_ID} characters"))
    if not message.handlers:
        problems.append(FieldViolation(f"{path}.handlers", "at least one handler version"))
    if not 1 <= message.concurrency <= MAX_CONCURRENCY:
        problems.append(FieldViolation(f"{path}.concurrency", f"must be 1..{MAX_CONCURRENCY}"))
    handlers: list[HandlerSpec] = []
    declared: set[tuple[str, str]] = set()
    for index, info in enumerate(message.handlers):
        try:
            spec = handler_from_proto(info, f"{path}.handlers[{index}]")
        except InvalidArgument as exc:
            problems.extend(exc.violations)
            continue
        # One registry row per version: two declarations of it would be two rows of one
        # upsert, which PostgreSQL refuses (and which one should win?).
        if (spec.name, spec.version) in declared:
            problems.append(
                FieldViolation(f"{path}.handlers[{index}]", f"{spec.name} {spec.version} is declared twice")
            )
        declared.add((spec.name, spec.version))
        handlers.append(spec)
    if problems:
        raise InvalidArgument(f"invalid worker: {problems[0].field}: {problems[0].description}", problems)
    lease = message.lease_duration.ToTimedelta().total_seconds() if message.HasField("lease_duration") else 0
    lease = min(max(lease or default_lease, MIN_LEASE_SECONDS), MAX_LEASE_SECONDS)
    return Worker(message.worker_id, handlers, message.concurrency, lease)


def schedule_from_proto(message: schedule_service_pb2.Schedule, path: str) -> Schedule:
    """A schedule to create: validated field by field."""
    problems = _Violations()
    job = message.job
    if not message.HasField("job"):
        problems.add(f"{path}.job", "required")
    else:
        _check_spec_fields(job, f"{path}.job", problems)
    if job.idempotency_key or job.HasField("run_at") or job.HasField("delay"):
        problems.add(f"{path}.job", "idempotency_key, run_at and delay are set per tick by the schedule")
    timing_kind = message.WhichOneof("timing")
    interval = message.interval.ToTimedelta().total_seconds() if timing_kind == "interval" else None
    timing = Timing(message.cron if timing_kind == "cron" else None, interval, message.time_zone or "UTC")
    for field, description in timing.problems():
        problems.add(f"{path}.{field}", description)
    problems.raise_if_any("schedule")  # before the spec conversion repeats the job's problems
    spec = job_spec_from_proto(job, f"{path}.job")
    missed = (
        MissedTicks.RUN_ONCE if message.missed_ticks == schedule_service_pb2.MISSED_TICKS_RUN_ONCE else MissedTicks.SKIP
    )
    while_paused = (
        WhilePaused.KEEP if message.while_paused == schedule_service_pb2.WHILE_PAUSED_KEEP else WhilePaused.SKIP
    )
    schedule = Schedule(message.name, spec, timing, missed, paused=message.paused, while_paused=while_paused)
    for field, description in schedule.problems():
        problems.add(f"{path}.{field}", description)
    problems.raise_if_any("schedule")
    return schedule


def _schema(message: Any, field: str, path: str, problems: _Violations) -> dict[str, JsonValue] | None:
    """A declared JSON Schema, checked against its metaschema now: a schema that cannot be
    used would otherwise fail every Submit to the handler."""
    if not message.HasField(field):
        return None
    # Integral numbers as int (a Struct holds doubles): {"maxLength": 3} must stay an
    # integer for drafts 3 and 4, whose metaschemas do not take 3.0 for one.
    schema = {key: json_from_value(value) for key, value in getattr(message, field).fields.items()}
    try:
        check_schema(schema)
    except InvalidSchema as exc:
        problems.add(f"{path}.{field}", f"not a usable JSON Schema for {message.name} {message.version}: {exc}")
    return schema


_BULK_ACTIONS: dict[int, BulkAction] = {
    operation_service_pb2.BULK_ACTION_CANCEL: BulkAction.CANCEL,
    operation_service_pb2.BULK_ACTION_REDRIVE: BulkAction.REDRIVE,
    operation_service_pb2.BULK_ACTION_DELETE: BulkAction.DELETE,
}


def bulk_action_from_proto(value: int, field: str) -> BulkAction:
    """A bulk action; unspecified is refused (no default for what changes many jobs)."""
    action = _BULK_ACTIONS.get(value)
    if action is None:
        raise InvalidArgument(f"{field} must be CANCEL, REDRIVE or DELETE", [FieldViolation(field, "required")])
    return action


def job_filter_from_proto(message: operation_service_pb2.JobFilter, path: str) -> JobFilter:
    """A bulk action's job filter, every field checked."""
    problems = _Violations()
    _check_labels(message.labels, f"{path}.labels", problems)
    if message.version:
        try:
            Version.parse(message.version)
        except InvalidVersion as exc:
            problems.add(f"{path}.version", f"an exact version: {exc}")
    problems.raise_if_any("job filter")
    return JobFilter(
        states=tuple(states_from_proto(message.states, f"{path}.states")),
        handler=message.handler,
        version=message.version,
        labels=dict(message.labels),
        flow_key=message.flow_key,
        created_after=message.created_after.ToDatetime(UTC) if message.HasField("created_after") else None,
        created_before=message.created_before.ToDatetime(UTC) if message.HasField("created_before") else None,
    )
