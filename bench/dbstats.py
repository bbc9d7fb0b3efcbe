"""What the database sees: statements and transactions per database, LISTEN connections.

Statements come from pg_stat_statements (the harness preloads it on its private
PostgreSQL; counted the moment each statement ends, utility statements such as
BEGIN, COMMIT and LISTEN included). Transactions come from pg_stat_database
(xact_commit + xact_rollback), which backends flush at most once a second and idle ones
within about 10 s, so short windows are rough. Read from a connection on the `postgres`
database, so the reading itself is not counted against the measured database.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

LISTEN_APPLICATION = "jobsvc-listen"


@dataclass(frozen=True)
class DbSample:
    """Cumulative counters of one database at one moment."""

    at: float
    transactions: float
    statements: float | None


@dataclass(frozen=True)
class DbRates:
    """Per-second rates between two samples."""

    transactions: float
    statements: float | None


class DbStats:
    """Reads one database's counters through a connection on another database."""

    def __init__(self, conn: asyncpg.Connection, database: str, statements: bool) -> None:
        self._conn = conn
        self.database = database
        self.statements = statements

    async def sample(self) -> DbSample:
        """The counters now."""
        transactions = await self._conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", self.database
        )
        statements = None
        if self.statements:
            statements = await self._conn.fetchval(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s"
                " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1",
                self.database,
            )
        counted = None if statements is None else float(statements)
        return DbSample(time.perf_counter(), float(transactions or 0), counted)

    @staticmethod
    def rates(start: DbSample, end: DbSample) -> DbRates:
        """Transactions and statements per second between two samples."""
        wall = max(end.at - start.at, 1e-9)
        statements = None
        if start.statements is not None and end.statements is not None:
            statements = (end.statements - start.statements) / wall
        return DbRates((end.transactions - start.transactions) / wall, statements)

    async def reset_statements(self) -> None:
        """Start pg_stat_statements' counts afresh (every database's)."""
        await self._conn.execute("SELECT pg_stat_statements_reset()")

    async def top_statements(self, limit: int) -> list[tuple[float, int, float, str]]:
        """The statements that cost the database most so far, as (total ms, calls, mean ms,
        query) rows: where its time goes (see --statements)."""
        rows = await self._conn.fetch(
            "SELECT total_exec_time, calls, mean_exec_time, query FROM pg_stat_statements s"
            " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1"
            " ORDER BY total_exec_time DESC LIMIT $2",
            self.database,
            limit,
        )
        return [(r["total_exec_time"], r["calls"], r["mean_exec_time"], r["query"]) for r in rows]

    async def connections(self) -> tuple[int, int]:
        """(LISTEN connections, all connections) on the database now."""
        row = await self._conn.fetchrow(
            "SELECT count(*) FILTER (WHERE application_name = $2 OR query ILIKE 'LISTEN%') AS listen,"
            " count(*) AS total FROM pg_stat_activity WHERE datname = $1",
            self.database,
            LISTEN_APPLICATION,
        )
        assert row is not None
        return int(row["listen"]), int(row["total"])


async def enable_statements(dsn: str) -> bool:
    """Create pg_stat_statements in the `postgres` database; whether it is usable (preloaded)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.fetchval("SELECT count(*) FROM pg_stat_statements")
    except asyncpg.PostgresError:
        return False
    finally:
        await conn.close()
    return True


@contextlib.asynccontextmanager
async def db_stats(admin_dsn: str, database: str, statements: bool) -> AsyncIterator[DbStats]:
    """A DbStats on its own connection (to admin_dsn, the `postgres` database), closed at the end."""
    conn = await asyncpg.connect(admin_dsn, command_timeout=30)
    try:
        yield DbStats(conn, database, statements)
    finally:
        await conn.close()
