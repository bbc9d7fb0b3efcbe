"""Rows of jobsvc_jobs, jobsvc_job_events, jobsvc_handlers and the workflow tables as domain
objects, and back."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg

from jobsvc.domain.flow import FlowControl, FlowKeys, WaitReason
from jobsvc.domain.jobs import (
    EventKind,
    HandlerSpec,
    Job,
    JobError,
    JobEvent,
    JobSpec,
    JobState,
    NewJob,
    Payload,
    RetryPolicy,
    Transition,
)
from jobsvc.domain.operations import BulkAction, Operation, OperationState
from jobsvc.domain.pauses import Pause
from jobsvc.domain.schedules import MissedTicks, Schedule, Timing, WhilePaused
from jobsvc.domain.values import JsonValue
from jobsvc.domain.workflows import StepStatus, Workflow, WorkflowState, WorkflowStep, workflow_state


def json_text(value: JsonValue) -> str | None:
    """JSON for a text[] parameter (see queries.sql); None (SQL NULL) stays None."""
    return None if value is None else json.dumps(value)


def payload_columns(payload: Payload | None) -> tuple[JsonValue, str | None, bytes | None]:
    """(json, type_url, data) columns of a payload."""
    if payload is None:
        return None, None, None
    return payload.json, payload.type_url, payload.data


def payload(json_value: Any, type_url: str | None, data: bytes | None) -> Payload:
    """A payload from its columns."""
    if type_url is not None:
        return Payload(type_url=type_url, data=bytes(data or b""))
    return Payload(json=json_value)


def job_options(job: NewJob) -> str:
    """The per-row options of job_insert_many, as JSON text. The jobs of a batch mostly
    share them, so each distinct set is encoded once."""
    spec = job.spec
    trace = tuple(job.trace_context.items()) if job.trace_context else None
    return _options_text(
        (
            job.retry_policy,
            job.attempt_timeout,
            spec.execution_timeout,
            spec.schedule_to_start_timeout,
            job.retention,
            job.input_hash,
            job.flow_keys,
            trace,
        )
    )


_Options = tuple[
    RetryPolicy,
    float | None,
    float | None,
    float | None,
    float,
    str | None,
    FlowKeys,
    tuple[tuple[str, str], ...] | None,
]


@functools.lru_cache(maxsize=1024)
def _options_text(options: _Options) -> str:
    policy, attempt_timeout, execution_timeout, schedule_to_start_timeout, retention, input_hash, flow_keys, trace = (
        options
    )
    return json.dumps(
        {
            "max_attempts": policy.maximum_attempts,
            "initial_interval": policy.initial_interval,
            "backoff_coefficient": policy.backoff_coefficient,
            "maximum_interval": policy.maximum_interval,
            "non_retryable_error_types": list(policy.non_retryable_error_types or ()),
            "attempt_timeout": attempt_timeout,
            "execution_timeout": execution_timeout,
            "schedule_to_start_timeout": schedule_to_start_timeout,
            "retention": retention,
            "input_hash": input_hash,
            **flow_keys.to_json(),
            "trace_context": dict(trace) if trace else None,
        }
    )


def labels_text(labels: dict[str, str]) -> str:
    """Labels as JSON text (most jobs have none)."""
    return json.dumps(labels) if labels else "{}"


# The columns rows.job reads, which every job-returning query in queries.sql selects
# (written out in each: the SQL there is what runs). tests/store checks both sides.
JOB_COLUMNS = (
    "id",
    "handler",
    "version_selector",
    "version",
    "state",
    "priority",
    "input",
    "input_type_url",
    "input_data",
    "result",
    "result_type_url",
    "result_data",
    "error",
    "attempt",
    "idempotency_key",
    "labels",
    "created_at",
    "run_at",
    "started_at",
    "finished_at",
    "cancel_requested",
    "last_seq",
    "progress_percent",
    "progress_message",
    "max_attempts",
    "attempt_errors",
    "cached_from",
    "redrive_of",
    "concurrency_key",
    "concurrency_limit",
    "rate_key",
    "rate_limit",
    "rate_period",
    "fairness_key",
    "trace_context",
)


def job(row: asyncpg.Record) -> Job:
    """A job from a row with JOB_COLUMNS (and waiting_kind, from job_get and job_list)."""
    state = JobState(row["state"])
    return Job(
        id=str(row["id"]),
        handler=row["handler"],
        version_selector=row["version_selector"],
        version=row["version"],
        state=state,
        input=payload(row["input"], row["input_type_url"], row["input_data"]),
        result=(
            payload(row["result"], row["result_type_url"], row["result_data"]) if state is JobState.SUCCEEDED else None
        ),
        error=JobError.from_json(row["error"]) if row["error"] else None,
        attempt=row["attempt"],
        priority=row["priority"],
        idempotency_key=row["idempotency_key"],
        labels=dict(row["labels"] or {}),
        created_at=row["created_at"],
        run_at=row["run_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        cancel_requested=row["cancel_requested"],
        last_seq=row["last_seq"],
        progress_percent=row["progress_percent"],
        progress_message=row["progress_message"],
        max_attempts=row["max_attempts"],
        attempt_errors=tuple(JobError.from_json(e) for e in row["attempt_errors"] or () if isinstance(e, dict)),
        cached_from=str(row["cached_from"]) if row["cached_from"] else None,
        redrive_of=str(row["redrive_of"]) if row["redrive_of"] else None,
        wait_reason=(wait := WaitReason(row.get("waiting_kind") or "")),
        waiting_reason=_waiting_text(wait, row),
        concurrency_key=row["concurrency_key"],
        rate_key=row["rate_key"],
        fairness_key=row["fairness_key"],
        trace_context=dict(row["trace_context"]) if row["trace_context"] else None,
    )


def without_payloads(job: Job) -> Job:
    """A job as the BASIC view reads it (job_get and job_list with :payloads false, whose
    payload columns come back NULL), from a row read with them (the history's)."""
    return replace(job, input=Payload(), result=None if job.result is None else Payload())


def transition(row: asyncpg.Record, state: JobState, attempt_ended: bool = True) -> Transition:
    """A Transition from a row with id, handler, version, attempt, job_seconds (and attempt_seconds)."""
    return Transition(
        job_id=str(row["id"]),
        handler=row["handler"],
        version=row["version"],
        attempt=row["attempt"],
        state=state,
        next_run_at=row.get("next_run_at"),
        attempt_seconds=(row["attempt_seconds"] or 0.0) if attempt_ended else None,
        job_seconds=row["job_seconds"] or 0.0,
    )


def started_at_insert(job: Job) -> Job:
    """A job just inserted already running its first attempt (job_insert_many with
    :start_owner): started when it was created, with its "started" event (seq 2)."""
    return replace(job, state=JobState.RUNNING, attempt=1, started_at=job.created_at, last_seq=2)


def new_job(new: NewJob, job_id: str, created_at: datetime, run_at: datetime) -> Job:
    """A job just inserted by job_insert_many, as rows.job would read it back: built
    from what the caller sent (decoding it back from the row costs more than the insert)."""
    spec, keys = new.spec, new.flow_keys
    return Job(
        id=job_id,
        handler=spec.handler,
        version_selector=spec.version_selector,
        version=new.version,
        state=JobState.QUEUED,
        input=spec.input,
        result=None,
        error=None,
        attempt=0,
        priority=spec.priority,
        idempotency_key=spec.idempotency_key,
        labels=dict(spec.labels),
        created_at=created_at,
        run_at=run_at,
        started_at=None,
        finished_at=None,
        cancel_requested=False,
        last_seq=1,
        progress_percent=None,
        progress_message=None,
        max_attempts=new.retry_policy.maximum_attempts or 1,
        concurrency_key=keys.concurrency_key,
        rate_key=keys.rate_key,
        fairness_key=keys.fairness_key,
        trace_context=new.trace_context,
    )


def _waiting_text(reason: WaitReason, row: asyncpg.Record) -> str:
    """What Get and List say about a queued job that is not running yet."""
    match reason:
        case WaitReason.SCHEDULED:
            return "scheduled"
        case WaitReason.RETRY_BACKOFF:
            return f"retrying after attempt {row['attempt']} failed"
        case WaitReason.NO_WORKER:
            return f"no executor or worker serves {row['handler']} {row['version']}"
        case WaitReason.CONCURRENCY_LIMIT:
            return f"concurrency limit: {row['concurrency_limit']} running with key {row['concurrency_key']!r}"
        case WaitReason.RATE_LIMIT:
            return f"rate limit: {row['rate_limit']} starts per {row['rate_period']:g} s with key {row['rate_key']!r}"
        case WaitReason.PAUSED:
            return f"{row['handler']} {row['version']} is paused"
        case WaitReason.CHILDREN:
            return "waiting for its child jobs to finish"
        case WaitReason.SLEEPING:
            return f"sleeping until {row['run_at'].isoformat()}"
    return ""


def event(row: asyncpg.Record) -> JobEvent:
    """An event from a jobsvc_job_events row."""
    kind = EventKind(row["kind"])
    has_payload = row["payload"] is not None or row["payload_type_url"] is not None or kind is EventKind.SUCCEEDED
    return JobEvent(
        job_id=str(row["job_id"]),
        seq=row["seq"],
        kind=kind,
        time=row["time"],
        data=row["data"],
        payload=payload(row["payload"], row["payload_type_url"], row["payload_data"]) if has_payload else None,
    )


def handler_spec(row: asyncpg.Record) -> HandlerSpec:
    """A registry entry."""
    return HandlerSpec(
        name=row["name"],
        version=row["version"],
        description=row["description"],
        input_schema=row["input_schema"],
        output_schema=row["output_schema"],
        input_type=row["input_type"],
        output_type=row["output_type"],
        online=row["online"],
        retry_policy=RetryPolicy.from_json(row["retry_policy"]),
        attempt_timeout=row["attempt_timeout"],
        cache_ttl=row["cache_ttl"],
        retention=row["retention"],
        flow=FlowControl.from_json(row["flow_control"]),
    )


def schedule_parameters(schedule: Schedule, next_tick_at: datetime) -> dict[str, object]:
    """The parameters of schedule_insert and schedule_declare, by name."""
    job = schedule.job
    input_json, type_url, data = payload_columns(job.input)
    options = {
        "retry_policy": job.retry_policy.to_json(),
        "attempt_timeout": job.attempt_timeout,
        "execution_timeout": job.execution_timeout,
        "schedule_to_start_timeout": job.schedule_to_start_timeout,
    }
    timing = schedule.timing
    return {
        "name": schedule.name,
        "handler": job.handler,
        "version_selector": job.version_selector,
        "input": None if type_url else json_text(input_json),
        "input_type_url": type_url,
        "input_data": data,
        "priority": job.priority,
        "labels": json.dumps(job.labels),
        "options": json.dumps(options),
        "cron": timing.cron,
        "interval_seconds": timing.every,
        "time_zone": timing.time_zone,
        "missed_ticks": schedule.missed_ticks.value,
        "while_paused": schedule.while_paused.value,
        "paused": schedule.paused,
        "source": schedule.source,
        "next_tick_at": next_tick_at,
    }


def schedule(row: asyncpg.Record) -> Schedule:
    """A jobsvc_schedules row."""
    options = row["options"] or {}
    job = JobSpec(
        handler=row["handler"],
        version_selector=row["version_selector"],
        input=payload(row["input"], row["input_type_url"], row["input_data"]),
        priority=row["priority"],
        labels=dict(row["labels"] or {}),
        retry_policy=RetryPolicy.from_json(options.get("retry_policy")),
        attempt_timeout=options.get("attempt_timeout"),
        execution_timeout=options.get("execution_timeout"),
        schedule_to_start_timeout=options.get("schedule_to_start_timeout"),
    )
    return Schedule(
        name=row["name"],
        job=job,
        timing=Timing(row["cron"], row["interval_seconds"], row["time_zone"]),
        missed_ticks=MissedTicks(row["missed_ticks"]),
        while_paused=WhilePaused(row["while_paused"]),
        paused=row["paused"],
        source=row["source"],
        next_tick_at=row["next_tick_at"],
        last_tick_at=row["last_tick_at"],
        last_job_id=str(row["last_job_id"]) if row["last_job_id"] else None,
        created_at=row["created_at"],
    )


def pause(row: asyncpg.Record) -> Pause:
    """A jobsvc_pauses row."""
    return Pause(row["handler"], row["version"], row["flow_key"], row["reason"], row["paused_by"], row["created_at"])


def operation(row: asyncpg.Record) -> Operation:
    """A jobsvc_operations row."""
    return Operation(
        id=str(row["id"]),
        action=BulkAction(row["action"]),
        filter=row["filter"],
        state=OperationState(row["state"]),
        matched=row["matched"],
        processed=row["processed"],
        max_jobs_per_second=row["max_jobs_per_second"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        cursor=(row["cursor_created_at"], str(row["cursor_id"])),
    )


def step_inputs_text(step: WorkflowStep, job_ids: dict[str, str]) -> str:
    """A step's inputs as jobsvc_workflow_steps.inputs keeps them: parents by job id."""
    return json.dumps(
        [
            {"job_id": job_ids[taken.step], "step": taken.step, "path": list(taken.path), "key": taken.key}
            for taken in step.inputs
        ]
    )


def step_map_text(step: WorkflowStep, job_ids: dict[str, str]) -> str | None:
    """A mapped step's map as jobsvc_workflow_steps.map keeps it (None when it maps nothing)."""
    if step.map is None:
        return None
    taken = step.map
    return json.dumps(
        {
            "job_id": job_ids[taken.step],
            "step": taken.step,
            "path": list(taken.path),
            "key": taken.key,
            "max_items": taken.max_items,
        }
    )


def step(row: asyncpg.Record) -> StepStatus:
    """A step from a workflow_steps_get row."""
    return StepStatus(row["step_name"], tuple(row["depends_on"]), row["optional"], job(row), row["map_of"], row["item"])


def workflow(row: asyncpg.Record, steps: list[StepStatus]) -> Workflow:
    """A workflow from a workflow_get or workflow_list row, with its steps (if read)."""
    states = [JobState(s) for s in row["states"]]
    state = workflow_state(list(zip(states, row["optionals"], strict=True)), row["cancel_reason"] is not None)
    return Workflow(
        id=str(row["id"]),
        name=row["name"],
        state=state,
        labels=dict(row["labels"] or {}),
        created_at=row["created_at"],
        finished_at=row["finished_at"] if state is not WorkflowState.RUNNING else None,
        steps=tuple(steps),
        # With the elements of mapped steps, as steps_finished counts them.
        steps_total=len(states),
        steps_finished=sum(1 for s in states if s.terminal),
        cancel_reason=row["cancel_reason"],
    )


def wait_counts(row: asyncpg.Record) -> dict[WaitReason, int]:
    """A job_stats_by_version row's queued jobs by wait reason (reasons with none left out).
    Without a worker for the version, every due job waits for one, whatever its limits."""
    counts = {
        WaitReason.SCHEDULED: row["wait_scheduled"],
        WaitReason.RETRY_BACKOFF: row["wait_retry_backoff"],
    }
    if row["no_worker"]:
        counts[WaitReason.NO_WORKER] = row["queued"]
    else:
        counts[WaitReason.CONCURRENCY_LIMIT] = row["wait_concurrency_limit"]
        counts[WaitReason.RATE_LIMIT] = row["wait_rate_limit"]
    return {reason: count for reason, count in counts.items() if count}
