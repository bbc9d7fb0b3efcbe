"""Watches a database while a scenario runs: records the attempt tokens of running jobs
(replayed as stale settlements once everything is terminal, L5) and any job left
running past its lease plus one rescue interval (L7)."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

import asyncpg

from tests.faults.ledger import Ledger

# Seconds past max(lease end, the watchdog's (re)connection): a database outage stops the
# rescuers too, so the clock of L7 starts again when the database is back.
RUNNING = """
SELECT id::text, attempt_token::text AS token,
       extract(epoch FROM now() - greatest(lease_expires_at, $1::timestamptz))::double precision AS overdue
FROM jobsvc_jobs WHERE state = 'running'
"""
# InternalClientError: asyncpg's protocol state after its server's postmaster was killed
# mid-query ("another operation is in progress"); the connection is as good as lost.
CONNECTION_TROUBLE = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    TimeoutError,
)


class Watchdog:
    """An async context manager running the watch loop in the background."""

    def __init__(self, ledger: Ledger, dsn: str, *, tolerance: float, interval: float = 0.3) -> None:
        self._ledger = ledger
        self._dsn = dsn
        self._tolerance = tolerance
        self._interval = interval
        self._stuck: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watchdog:
        self._task = asyncio.create_task(self._run(), name=f"fault-watchdog-{self._ledger.name}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self._dsn, timeout=2)
            except CONNECTION_TROUBLE:
                await asyncio.sleep(self._interval)
                continue
            try:
                await self._watch(conn)
            except CONNECTION_TROUBLE:
                await asyncio.sleep(self._interval)
            finally:
                with contextlib.suppress(*CONNECTION_TROUBLE):
                    await asyncio.wait_for(conn.close(), 2)

    async def _watch(self, conn: asyncpg.Connection) -> None:
        connected_at = await conn.fetchval("SELECT now()")
        while True:
            for row in await conn.fetch(RUNNING, connected_at, timeout=5):
                if row["token"] is not None:
                    self._ledger.tokens.add((row["id"], row["token"]))
                overdue = row["overdue"]
                if overdue is not None and overdue > self._tolerance and row["id"] not in self._stuck:
                    self._stuck.add(row["id"])
                    self._ledger.stuck.append(f"L7: job {row['id']} still running {overdue:.1f}s after its lease")
            await asyncio.sleep(self._interval)
