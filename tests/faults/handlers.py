"""Handlers of the fault suite. Each one writes its executions to the table
`fault_executions` of the job's own database, so executions are counted
independently of jobsvc's bookkeeping: (job id, attempt, worker, pid, start, end, outcome).

Served by in-process servers and by child `jobsvc worker` / `jobsvc serve` processes;
they find the ledger through the environment (FAULT_LEDGER_DSN, FAULT_WORKER_ID).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from jobsvc import ConcurrencyLimit, FlowControl, JobContext, NonRetryableError, RetryPolicy, handler

LEDGER_DSN_ENV = "FAULT_LEDGER_DSN"
WORKER_ID_ENV = "FAULT_WORKER_ID"

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS fault_executions (
    id         bigserial        PRIMARY KEY,
    job_id     uuid             NOT NULL,
    handler    text             NOT NULL,
    attempt    integer          NOT NULL,
    worker     text             NOT NULL,
    pid        integer          NOT NULL,
    -- Epoch seconds of the handler's own clock (the test's clock: one machine).
    started_at double precision NOT NULL,
    ended_at   double precision,
    -- ok | error | timeout | cancelled; NULL when the process died (or the DB was down).
    outcome    text
)
"""
INSERT_EXECUTION = """
INSERT INTO fault_executions (job_id, handler, attempt, worker, pid, started_at)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
"""
END_EXECUTION = "UPDATE fault_executions SET ended_at = $2, outcome = $3 WHERE id = $1"

# A recording that cannot finish in this long is given up (the database is down).
RECORD_TIMEOUT = 3.0

FAST_RETRIES = RetryPolicy(initial_interval=0.1, backoff_coefficient=1.0, maximum_attempts=3)


def worker_name() -> str:
    """Who runs executions in this process: FAULT_WORKER_ID, else in-process host:pid."""
    return os.environ.get(WORKER_ID_ENV) or f"inproc:{socket.gethostname()}:{os.getpid()}"


async def create_ledger_table(conn: asyncpg.Connection | asyncpg.Pool) -> None:
    """Create fault_executions unless it exists (racing creators are harmless)."""
    with contextlib.suppress(asyncpg.UniqueViolationError, asyncpg.DuplicateTableError):
        await conn.execute(CREATE_TABLE)


class ExecutionLog:
    """Writes one row per execution: at its start (durably, before any work) and at its end."""

    def __init__(self, pool: asyncpg.Pool, worker: str) -> None:
        self._pool = pool
        self._worker = worker

    async def started(self, ctx: JobContext) -> int:
        """Record the start; raises when the database is unreachable (the attempt then fails)."""
        row_id = await asyncio.wait_for(
            self._pool.fetchval(
                INSERT_EXECUTION, ctx.job_id, ctx.handler, ctx.attempt, self._worker, os.getpid(), time.time()
            ),
            RECORD_TIMEOUT,
        )
        return int(row_id)

    async def ended(self, row_id: int, outcome: str) -> None:
        """Record the end, best effort: a missing end reads as "did not finish"."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._pool.execute(END_EXECUTION, row_id, time.time(), outcome), RECORD_TIMEOUT)


@asynccontextmanager
async def lifespan() -> AsyncIterator[Mapping[str, Any]]:
    """A small pool on the ledger database, shared by the handlers of this process."""
    pool = await asyncpg.create_pool(os.environ[LEDGER_DSN_ENV], min_size=1, max_size=4, command_timeout=5)
    assert pool is not None
    try:
        await create_ledger_table(pool)
        yield {"ledger": ExecutionLog(pool, worker_name())}
    finally:
        try:
            await asyncio.wait_for(pool.close(), 5)
        except TimeoutError:
            pool.terminate()


@asynccontextmanager
async def recorded(ctx: JobContext, *, cancelled_as: str = "cancelled") -> AsyncIterator[None]:
    """Record the execution around the block, with how it ended."""
    log: ExecutionLog = ctx.resources["ledger"]
    row_id = await log.started(ctx)
    outcome = "ok"
    try:
        yield
    except asyncio.CancelledError:
        outcome = cancelled_as
        raise
    except Exception:
        outcome = "error"
        raise
    finally:
        await log.ended(row_id, outcome)


def seconds_for(value: Any, attempt: int) -> float:
    """value["sleep"]: seconds, or a list of seconds per attempt (the last one repeats)."""
    sleep = value.get("sleep", 0.0) if isinstance(value, dict) else 0.0
    if isinstance(sleep, list):
        return float(sleep[min(attempt, len(sleep)) - 1]) if sleep else 0.0
    return float(sleep)


@handler(
    "fault_work",
    "1.0.0",
    retry_policy=RetryPolicy(initial_interval=0.1, backoff_coefficient=2.0, maximum_interval=1.0, maximum_attempts=10),
)
async def fault_work(ctx: JobContext, value: Any) -> dict[str, Any]:
    """Sleeps (see seconds_for), then returns who ran which attempt."""
    async with recorded(ctx):
        await asyncio.sleep(seconds_for(value, ctx.attempt))
    return {"job_id": ctx.job_id, "attempt": ctx.attempt, "worker": worker_name()}


@handler("fault_raise", "1.0.0", retry_policy=FAST_RETRIES)
async def fault_raise(ctx: JobContext, value: Any) -> None:
    """Poison: always raises a retryable error."""
    async with recorded(ctx):
        raise ConnectionError(f"attempt {ctx.attempt}: the backend refused")


@handler("fault_reject", "1.0.0", retry_policy=FAST_RETRIES)
async def fault_reject(ctx: JobContext, value: Any) -> None:
    """Poison: raises a non-retryable error (one attempt, whatever the policy allows)."""
    async with recorded(ctx):
        raise NonRetryableError(f"attempt {ctx.attempt}: this input can never succeed")


@handler("fault_hang", "1.0.0", retry_policy=RetryPolicy(initial_interval=0.1, maximum_attempts=2), attempt_timeout=1.0)
async def fault_hang(ctx: JobContext, value: Any) -> None:
    """Poison: hangs past its attempt_timeout (a deliberate timeout, recorded as such)."""
    async with recorded(ctx, cancelled_as="timeout"):
        await asyncio.sleep(3600)


@handler(
    "fault_slot",
    "1.0.0",
    retry_policy=RetryPolicy(initial_interval=0.1, maximum_attempts=5),
    flow=FlowControl(concurrency=ConcurrencyLimit(1, key="{input.key}")),
)
async def fault_slot(ctx: JobContext, value: Any) -> dict[str, Any]:
    """Like fault_work, with one slot per input key across every replica and worker."""
    async with recorded(ctx):
        await asyncio.sleep(seconds_for(value, ctx.attempt))
    return {"job_id": ctx.job_id, "attempt": ctx.attempt, "worker": worker_name()}


@handler("fault_sized", "1.0.0", retry_policy=FAST_RETRIES)
async def fault_sized(ctx: JobContext, value: Any) -> str:
    """A partial output of value["partial"] characters (if any), then a result of
    value["bytes"] characters: under, at or over the payload limit."""
    async with recorded(ctx):
        if isinstance(value, dict) and value.get("partial"):
            ctx.partial_output("p" * int(value["partial"]))
        return "r" * int(value.get("bytes", 0) if isinstance(value, dict) else 0)
