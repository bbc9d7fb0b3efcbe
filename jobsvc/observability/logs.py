"""Structured logs: one JSON object per line, and the job a line is about on every line.

A context variable holds the job being worked on (set around an execution and around
each transition the executor, the ack service and maintenance make), so every log line
written meanwhile, including the handler's own `logging` calls, carries job_id,
handler, version and attempt. Blocking handlers run in threads with a copy of the
context, so they carry the fields too. Inputs, results and tokens are never logged.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

from jobsvc.domain.jobs import JobState, Transition

JOB_FIELDS = ("job_id", "handler", "version", "attempt")
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_current_job: ContextVar[dict[str, str | int] | None] = ContextVar("jobsvc_current_job", default=None)


@contextmanager
def job_fields(job_id: str, handler: str = "", version: str = "", attempt: int = 0) -> Iterator[None]:
    """Log lines written inside this block are about this job."""
    token = _current_job.set({"job_id": job_id, "handler": handler, "version": version, "attempt": attempt})
    try:
        yield
    finally:
        _current_job.reset(token)


def log_transition(logger: logging.Logger, change: Transition, error_type: str = "") -> None:
    """One line per transition the store made: DEBUG for a success (the hot path),
    WARNING for failures. The error's type only: its message may quote the input."""
    what = f" ({error_type})" if error_type else ""
    if change.state is JobState.SUCCEEDED:
        logger.debug("job %s succeeded on attempt %d", change.job_id, change.attempt)
    elif change.state is JobState.CANCELLED:
        logger.info("job %s cancelled on attempt %d", change.job_id, change.attempt)
    elif change.state is JobState.QUEUED:
        logger.warning(
            "job %s: attempt %d failed%s; retry due at %s",
            change.job_id,
            change.attempt,
            what,
            change.next_run_at.isoformat() if change.next_run_at else "now",
        )
    elif change.attempt_seconds is None:
        logger.warning("job %s failed%s", change.job_id, what)
    else:
        logger.warning("job %s failed: attempt %d failed%s and is not retried", change.job_id, change.attempt, what)


class JobFieldsFilter(logging.Filter):
    """Copies the current job's fields onto each record (fields passed in `extra` win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _current_job.get()
        if fields is not None:
            for key, value in fields.items():
                if not hasattr(record, key):
                    setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the job's fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in JOB_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """The classic one-line text, with the job's fields appended when the line is about a job."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        job_id = getattr(record, "job_id", None)
        if job_id is None:
            return text
        job = f" [job {job_id} {getattr(record, 'handler', '')}@{getattr(record, 'version', '')}"
        return f"{text}{job} attempt {getattr(record, 'attempt', 0)}]"


def log_handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """A stream handler writing `log_format` lines, with the job fields filled in."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(JobFieldsFilter())
    return handler


def configure_logging(level: str, log_format: str, stream: TextIO | None = None) -> None:
    """The process's logging: one handler on the root logger (the `jobsvc` command calls this)."""
    logging.basicConfig(level=level.upper(), handlers=[log_handler(log_format, stream)], force=True)
