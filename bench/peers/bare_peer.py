"""bare: the simplest well-built PostgreSQL queue, in plain asyncpg, as a ceiling reference.

Not a product and not a peer anyone runs: it shows how fast a queue on the same PostgreSQL
can go when it does almost nothing besides moving rows, so that jobsvc's end-to-end figures
can be read against it.

What it does:
- one table, `bare_jobs` (id bigserial, payload jsonb, locked_at timestamptz, created_at), and
  one partial index on id for the rows not yet claimed (`WHERE locked_at IS NULL`), logged
  (durable) like every other table in the harness;
- enqueue: one statement per call, which inserts the jobs (one per call, or a batch as one
  array of payloads through `unnest`) and sends one NOTIFY for the whole call (not per row),
  through an asyncpg pool of 32 connections in the harness;
- the consumer, `python -m bench.peers.bare_peer` (its own process, on uvloop when
  installed): LOOPS claim loops, each on a connection of its own, each claiming up to BATCH
  jobs at a time, oldest first, with
  `WITH c AS MATERIALIZED (SELECT id ... FOR UPDATE SKIP LOCKED) UPDATE ... SET locked_at
  = now() FROM c ... RETURNING id, payload`, decoding each payload and awaiting a no-op
  coroutine with it, one job after the other, then acknowledging the whole batch in one
  statement (`DELETE ... WHERE id = ANY($1)`); a finished job leaves the table. A loop that
  found nothing waits for the NOTIFY (one LISTEN connection wakes every loop) or POLL
  seconds, whichever comes first; SIGTERM stops the loops after their current batch.

BATCH is 100, as the performance issue defines the ceiling (claims of 100); LOOPS 2. Of the
few settings tried on the 2-core machine (2x100, 2x250, 4x100, 4x250, 8x50), 2x250 was a
little faster (fewer, larger claims mean fewer statements for PostgreSQL, the busy party).
A single enqueue is a batch of one, so it sends a NOTIFY too: PostgreSQL serializes the
commits of notifying transactions, which caps the
single-enqueue figures with many callers (the batch and end-to-end figures notify once per
call of 500 or 1,000).

What it does not do: no retries or error handling per job (a handler that raised would stop
its loop), no leases, heartbeats or rescue (a job claimed by a consumer that dies stays
locked forever), no results, no scheduling or priorities, no timeouts, no cancellation, no
handler registry or versions, no payload validation, no flow control, no events or metrics,
no history (acknowledged jobs are deleted), and one queue only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg

from bench.peers import PeerEnv
from bench.processes import child_env, child_process

CHANNEL = "bare_jobs"
PAYLOAD = json.dumps({"n": 1})
LOOPS = 2
BATCH = 100
POLL = 0.1
POOL_SIZE = 32
DSN_VARIABLE = "BENCH_BARE_DSN"

SCHEMA = """
CREATE TABLE bare_jobs (
    id bigserial PRIMARY KEY,
    payload jsonb NOT NULL,
    locked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bare_jobs_due ON bare_jobs (id) WHERE locked_at IS NULL;
"""
# One statement: the rows, then one NOTIFY (sent at commit) for all of them.
ENQUEUE = f"""
WITH inserted AS (INSERT INTO bare_jobs (payload) SELECT unnest($1::jsonb[]) RETURNING 1)
SELECT (SELECT count(*) FROM inserted), pg_notify('{CHANNEL}', '')
"""
CLAIM = """
WITH c AS MATERIALIZED (
    SELECT id FROM bare_jobs WHERE locked_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
)
UPDATE bare_jobs j SET locked_at = now() FROM c WHERE j.id = c.id RETURNING j.id, j.payload
"""
ACK = "DELETE FROM bare_jobs WHERE id = ANY($1::bigint[])"


@dataclass
class BarePeer:
    """The bare queue on one database."""

    env: PeerEnv
    pool: asyncpg.Pool
    name: str = "bare"
    settings: str = (
        f"plain asyncpg SKIP LOCKED queue (ceiling reference): 1 consumer process, {LOOPS} claim loops of "
        f"{BATCH} jobs, LISTEN/NOTIFY once per enqueue call + {POLL * 1000:.0f} ms poll, batch ack by DELETE; "
        f"enqueue over an asyncpg pool of {POOL_SIZE}"
    )
    supports_call: bool = False
    broker_pids: list[int] = field(default_factory=list)
    enqueued: int = 0

    async def enqueue_one(self) -> None:
        await self.enqueue_batch(1)

    async def enqueue_batch(self, size: int) -> int:
        count = int(await self.pool.fetchval(ENQUEUE, [PAYLOAD] * size))
        self.enqueued += count
        return count

    async def completed(self) -> int:
        # Acknowledged jobs leave the table: done = enqueued - still there.
        return self.enqueued - int(await self.pool.fetchval("SELECT count(*) FROM bare_jobs"))

    async def backlog(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM bare_jobs WHERE locked_at IS NULL"))

    @contextlib.asynccontextmanager
    async def consumer(self) -> AsyncIterator[list[int]]:
        cmd = [sys.executable, "-m", "bench.peers.bare_peer", "--loops", str(LOOPS), "--batch", str(BATCH)]
        env = child_env(**{DSN_VARIABLE: self.env.database_url})
        async with child_process(cmd, self.env.logs / "bare-consumer.log", env) as process:
            yield [process.pid]

    async def call_one(self) -> None:
        raise NotImplementedError("the bare queue has no request/response call")


@contextlib.asynccontextmanager
async def session(env: PeerEnv) -> AsyncIterator[BarePeer]:
    """Create the table on the fresh database and open the enqueueing pool."""
    conn = await asyncpg.connect(env.database_url)
    try:
        await conn.execute(SCHEMA)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(env.database_url, min_size=4, max_size=POOL_SIZE)
    assert pool is not None
    try:
        yield BarePeer(env, pool)
    finally:
        await pool.close()


# -- the consumer process ---------------------------------------------------------------


async def noop(payload: object) -> None:
    """The job: nothing."""
    return None


async def claim_loop(conn: asyncpg.Connection, wake: asyncio.Event, stop: asyncio.Event, batch: int) -> None:
    """Claim, run and acknowledge batches until stop; wait for a NOTIFY (or POLL) when none is due."""
    while not stop.is_set():
        wake.clear()  # before the claim: a NOTIFY that lands during it is not lost
        rows = await conn.fetch(CLAIM, batch)
        if not rows:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), POLL)
            continue
        for row in rows:
            await noop(json.loads(row["payload"]))
        await conn.execute(ACK, [row["id"] for row in rows])


async def consume(dsn: str, loops: int, batch: int) -> None:
    """LOOPS claim loops and one LISTEN connection until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    wakes = [asyncio.Event() for _ in range(loops)]

    def wake_all(*_args: object) -> None:  # a NOTIFY, or a signal
        for wake in wakes:
            wake.set()

    def stopping() -> None:
        stop.set()
        wake_all()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping)
    async with contextlib.AsyncExitStack() as stack:
        connections = []
        for _ in range(loops + 1):
            conn = await asyncpg.connect(dsn)
            stack.push_async_callback(conn.close)
            connections.append(conn)
        listener, *claimers = connections
        await listener.add_listener(CHANNEL, wake_all)
        await asyncio.gather(*(claim_loop(conn, wake, stop, batch) for conn, wake in zip(claimers, wakes, strict=True)))


def main() -> None:
    """The consumer process."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.peers.bare_peer")
    parser.add_argument("--loops", type=int, default=LOOPS)
    parser.add_argument("--batch", type=int, default=BATCH)
    args = parser.parse_args()
    consumer = consume(os.environ[DSN_VARIABLE], args.loops, args.batch)
    try:
        import uvloop
    except ImportError:
        asyncio.run(consumer)
    else:
        uvloop.run(consumer)


if __name__ == "__main__":
    main()
