"""pgqueuer (PostgreSQL, asyncpg): enqueue from the harness, consume in a process of its own.

The consumer process is `python -m bench.peers.pgqueuer_peer`, which calls `pgqueuer.run`
(the supervisor `pgq run` calls, on uvloop as `pgq run` does): in pgqueuer 1.6.0 `pgq run`
itself fails at start, as its --log-level option reaches the logger as a plain string.

Settings: the consumer dequeues in batches of 100 (`batch_size=100`; its drain is about
twice as fast as with the default 10), no per-worker task cap, durable (logged) tables as
`pgq install` creates them; the harness enqueues through an asyncpg pool of 32 connections,
one INSERT per `enqueue`, and lists of 1,000 in one `enqueue` call for batches.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg

from bench.peers import PeerEnv
from bench.processes import child_env, child_process

ENTRYPOINT = "noop"
PAYLOAD = b'{"n": 1}'
BATCH_SIZE = 100
POOL_SIZE = 32
DSN_VARIABLE = "PGDSN"


@contextlib.asynccontextmanager
async def create_pgqueuer() -> AsyncIterator[object]:
    """The factory the consumer process runs (as `pgq run bench.peers.pgqueuer_peer:create_pgqueuer` would)."""
    from pgqueuer import PgQueuer
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.models import Job

    connection = await asyncpg.connect(os.environ[DSN_VARIABLE])
    pgq = PgQueuer(AsyncpgDriver(connection))

    @pgq.entrypoint(ENTRYPOINT)
    async def noop(job: Job) -> None:
        return None

    try:
        yield pgq
    finally:
        await connection.close()


@dataclass
class PgqueuerPeer:
    """pgqueuer on one database."""

    env: PeerEnv
    pool: asyncpg.Pool
    queries: object
    name: str = "pgqueuer"
    settings: str = (
        f"pgqueuer.run(batch_size={BATCH_SIZE}) on uvloop (1 process); enqueue over an asyncpg pool of {POOL_SIZE}"
    )
    supports_call: bool = False
    broker_pids: list[int] = field(default_factory=list)
    enqueued: int = 0
    _processes: list[int] = field(default_factory=list)

    async def enqueue_one(self) -> None:
        await self.queries.enqueue(ENTRYPOINT, PAYLOAD)  # type: ignore[attr-defined]
        self.enqueued += 1

    async def enqueue_batch(self, size: int) -> int:
        ids = await self.queries.enqueue([ENTRYPOINT] * size, [PAYLOAD] * size, [0] * size)  # type: ignore[attr-defined]
        self.enqueued += len(ids)
        return len(ids)

    async def completed(self) -> int:
        # Finished jobs leave the queue table: done = enqueued - still there.
        remaining = int(await self.pool.fetchval("SELECT count(*) FROM pgqueuer"))
        return self.enqueued - remaining

    async def backlog(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM pgqueuer WHERE status = 'queued'"))

    @contextlib.asynccontextmanager
    async def consumer(self) -> AsyncIterator[list[int]]:
        cmd = [sys.executable, "-m", "bench.peers.pgqueuer_peer", "--batch-size", str(BATCH_SIZE)]
        env = child_env(**{DSN_VARIABLE: self.env.database_url})
        async with child_process(cmd, self.env.logs / "pgqueuer-consumer.log", env) as process:
            yield [process.pid]

    async def call_one(self) -> None:
        raise NotImplementedError("pgqueuer has no request/response call")


@contextlib.asynccontextmanager
async def session(env: PeerEnv) -> AsyncIterator[PgqueuerPeer]:
    """Install pgqueuer's schema on the fresh database and open the enqueueing pool."""
    from pgqueuer.db import AsyncpgDriver, AsyncpgPoolDriver
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(env.database_url)
    try:
        await Queries(AsyncpgDriver(conn)).install()
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(env.database_url, min_size=4, max_size=POOL_SIZE)
    assert pool is not None
    try:
        yield PgqueuerPeer(env, pool, Queries(AsyncpgPoolDriver(pool)))
    finally:
        await pool.close()


def main() -> None:
    """The consumer process: pgqueuer's supervisor until SIGTERM or SIGINT."""
    import argparse
    import asyncio

    import pgqueuer

    parser = argparse.ArgumentParser(prog="python -m bench.peers.pgqueuer_peer")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    args = parser.parse_args()
    consumer = pgqueuer.run(create_pgqueuer, batch_size=args.batch_size)  # type: ignore[arg-type]
    try:
        import uvloop
    except ImportError:
        asyncio.run(consumer)
    else:
        uvloop.run(consumer)


if __name__ == "__main__":
    main()
