"""procrastinate (PostgreSQL, psycopg 3): defer from the harness, consume with `procrastinate worker`.

Settings: one worker process with `--concurrency 32` (LISTEN/NOTIFY on, the default), jobs
kept after they finish (the default), the schema from `procrastinate schema --apply`'s SQL;
the harness defers through the app's psycopg pool of 32 connections, `defer_async` per job
and `batch_defer_async` (one INSERT) for batches.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import procrastinate

from bench.peers import PeerEnv
from bench.processes import child_env, child_process

CONCURRENCY = 32
POOL_SIZE = 32
DSN_VARIABLE = "BENCH_PROCRASTINATE_DSN"

# The app `procrastinate --app=bench.peers.procrastinate_peer.app worker` loads in the consumer.
app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ.get(DSN_VARIABLE, ""), min_size=1, max_size=POOL_SIZE)
)


@app.task(name="noop")
async def noop(n: int) -> None:
    """Does nothing."""
    return None


@dataclass
class ProcrastinatePeer:
    """procrastinate on one database."""

    env: PeerEnv
    app: procrastinate.App
    task: Any
    pool: asyncpg.Pool
    name: str = "procrastinate"
    settings: str = f"procrastinate worker --concurrency {CONCURRENCY} (1 process); psycopg pool of {POOL_SIZE}"
    supports_call: bool = False
    broker_pids: list[int] = field(default_factory=list)

    async def enqueue_one(self) -> None:
        await self.task.defer_async(n=1)

    async def enqueue_batch(self, size: int) -> int:
        ids = await self.task.batch_defer_async(*({"n": 1} for _ in range(size)))
        return len(ids)

    async def completed(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"))

    async def backlog(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'"))

    @contextlib.asynccontextmanager
    async def consumer(self) -> AsyncIterator[list[int]]:
        cmd = [
            sys.executable,
            "-m",
            "procrastinate",
            "--app=bench.peers.procrastinate_peer.app",
            "--log-level=warning",
            "worker",
            f"--concurrency={CONCURRENCY}",
        ]
        env = child_env(**{DSN_VARIABLE: self.env.database_url})
        async with child_process(cmd, self.env.logs / "procrastinate-worker.log", env) as process:
            yield [process.pid]

    async def call_one(self) -> None:
        raise NotImplementedError("procrastinate has no request/response call")


@contextlib.asynccontextmanager
async def session(env: PeerEnv) -> AsyncIterator[ProcrastinatePeer]:
    """An app of our own on the fresh database, with procrastinate's schema applied."""
    own = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=env.database_url, min_size=4, max_size=POOL_SIZE)
    )
    task = own.task(name="noop")(noop.func)
    async with own.open_async():
        await own.schema_manager.apply_schema_async()
        pool = await asyncpg.create_pool(env.database_url, min_size=1, max_size=2)
        assert pool is not None
        try:
            yield ProcrastinatePeer(env, own, task, pool)
        finally:
            await pool.close()
