"""Connecting to PostgreSQL, and telling other processes that jobs changed."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import asyncpg

from jobsvc.domain.errors import Unavailable
from jobsvc.store.sql import query

log = logging.getLogger("jobsvc.store")

# Errors that mean "the database is not reachable right now", as opposed to a bug
# in a query: they become UNAVAILABLE so that callers retry.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    TimeoutError,
)


def _json_decode(text: str) -> Any:
    """jsonb as Python; the values most rows hold (no labels, no errors, no result yet)
    without the parser (a fresh object each time: callers may change them)."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if text == "null":
        return None
    return json.loads(text)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=_json_decode, schema="pg_catalog")


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """Pool connections hold no session state (no LISTEN, no session locks, no
    temp tables), so asyncpg's reset round trip on every release is pure cost."""


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20, for_claims: bool = False) -> asyncpg.Pool:
    """A pool whose connections speak JSON for jsonb; for_claims tunes the planner for
    the claim queries (see PgStore.job_claim), the only ones such a pool runs."""
    settings = {"application_name": "jobsvc"}
    if for_claims:
        settings["plan_cache_mode"] = "force_custom_plan"
        # A queue is claimed by walking the queued-jobs index in hand-out order up to the
        # batch size. The planner cannot estimate the served-versions filter and, guessing
        # few matches, reads and sorts every queued job instead, by a sequential or a
        # bitmap scan (measured: 17-40 ms for a claim of 128 from 20,000 queued, against
        # under 2 ms through the index).
        settings.update(enable_seqscan="off", enable_bitmapscan="off")
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            reset=_no_reset,
            command_timeout=30,
            server_settings=settings,
        )
    except CONNECTION_ERRORS as exc:
        raise Unavailable(f"cannot connect to PostgreSQL: {exc}") from exc
    assert pool is not None
    return pool


_NOTIFY_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, asyncpg.PostgresError)

# NOTIFY payloads are limited to 8000 bytes; 36-byte ids plus commas.
_IDS_PER_NOTIFY = 200


class EventNotifier:
    """Tells waiters in every process that jobs have new events: local waiters at once,
    other processes with one coalesced NOTIFY per flush, sent after the commits."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._local: list[Callable[[str], None]] = []
        self._pending: dict[str, None] = {}
        self._task: asyncio.Task[None] | None = None

    def add_local(self, callback: Callable[[str], None]) -> None:
        """Also call callback(job_id) in this process, without a database round trip."""
        self._local.append(callback)

    def changed(self, job_ids: Iterable[str]) -> None:
        """The jobs' event logs grew (their transaction has committed)."""
        for job_id in job_ids:
            for callback in self._local:
                callback(job_id)
            self._pending[job_id] = None
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._flush(), name="jobsvc-notify")

    async def _flush(self) -> None:
        while self._pending:
            ids = list(self._pending)[:_IDS_PER_NOTIFY]
            for job_id in ids:
                del self._pending[job_id]
            try:
                await self._pool.execute(query("job_events_notify"), ",".join(ids))
            except _NOTIFY_ERRORS as exc:
                # Waiters in other processes re-read on their poll interval anyway.
                log.warning("could not notify %d job change(s): %s", len(ids), exc)

    async def close(self) -> None:
        """Send what is pending."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
