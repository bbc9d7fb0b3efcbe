"""Loads the named SQL blocks of queries.sql once, and the numbered migrations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

# The columns every job-returning query selects, in the order rows.py reads them.
# Substituted into the blocks at load time as {job_columns} (and {job_columns_j},
# qualified with `j.` for UPDATE ... FROM; {job_columns_basic}, the same with the
# payload columns NULL, for the BASIC view); nothing else is ever templated.
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

# The payloads, left out of the BASIC view: not even read from the table (a page of
# large jobs would otherwise be read whole to be thrown away).
_BASIC_COLUMNS = {
    "input": "NULL::jsonb AS input",
    "input_type_url": "NULL::text AS input_type_url",
    "input_data": "NULL::bytea AS input_data",
    "result": "NULL::jsonb AS result",
    "result_type_url": "NULL::text AS result_type_url",
    "result_data": "NULL::bytea AS result_data",
}

# Why a queued job is not running (Get and List only), as a jobsvc.domain.flow.WaitReason:
# it is scheduled for later (or backing off before a retry), no process that serves its
# exact version has been seen for 30 seconds, or its concurrency or rate limit is full.
WAITING_REASON = """CASE
    WHEN state <> 'queued' THEN ''
    WHEN run_at > now() THEN CASE WHEN attempt > 0 THEN 'retry_backoff' ELSE 'scheduled' END
    WHEN NOT EXISTS (SELECT 1 FROM jobsvc_handlers h WHERE h.name = handler AND h.version = version
                     AND h.last_seen_at > now() - interval '30 seconds')
        THEN 'no_worker'
    WHEN concurrency_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobsvc_concurrency c
            WHERE c.key = concurrency_key AND c.running >= concurrency_limit)
        THEN 'concurrency_limit'
    WHEN rate_key IS NOT NULL AND EXISTS (SELECT 1 FROM jobsvc_rate_windows w
            WHERE w.key = rate_key AND w.blocked_until > now())
        THEN 'rate_limit'
    ELSE '' END AS waiting_kind"""

_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")


@cache
def queries() -> dict[str, str]:
    """All named queries, keyed by name."""
    text = resources.files("jobsvc.store").joinpath("sql/queries.sql").read_text("utf-8")
    text = text.replace("{job_columns_j}", ", ".join(f"j.{c}" for c in JOB_COLUMNS))
    text = text.replace("{job_columns_basic}", ", ".join(_BASIC_COLUMNS.get(c, c) for c in JOB_COLUMNS))
    text = text.replace("{job_columns}", ", ".join(JOB_COLUMNS))
    text = text.replace("{waiting_reason}", WAITING_REASON)
    parts = _NAME_LINE.split(text)
    named: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in named:
            raise ValueError(f"query {name!r} is defined twice in queries.sql")
        named[name] = body.strip()
    return named


def query(name: str) -> str:
    """One named query; KeyError names the missing block."""
    return queries()[name]


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered, append-only schema change."""

    version: int
    name: str
    sql: str


@cache
def migrations() -> tuple[Migration, ...]:
    """The migrations in the order they apply."""
    folder = resources.files("jobsvc.store").joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise ValueError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return tuple(found)
