"""What the database's busy connections wait for during a scenario's measurement windows.

    python -m bench.run --only e2e --waits e2e

Samples `pg_stat_activity` of the scenario's database every few milliseconds and counts, per
(wait event, statement), how many backends were in it: the average number of backends in
each state over the window. `cpu` means running (no wait event). This is how a latency-bound
path shows itself where CPU profiles see nothing: a claim waiting for a WAL flush
(IO:WALSync, LWLock:WALWrite), commits serialised on the global notify lock (Lock:object),
row locks (Lock:transactionid).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator

import asyncpg

INTERVAL = 0.005
SAMPLE = """
SELECT coalesce(wait_event_type || ':' || wait_event, 'cpu') AS waiting,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS statement
FROM pg_stat_activity
WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


class WaitSampler:
    """Samples one database's active backends during each window it is asked to."""

    def __init__(self, dsn: str, database: str) -> None:
        self._dsn = dsn
        self._database = database
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._samples = 0

    @contextlib.asynccontextmanager
    async def window(self) -> AsyncIterator[None]:
        """Sample while the block runs."""
        conn = await asyncpg.connect(self._dsn)
        stop = asyncio.Event()
        task = asyncio.create_task(self._sample(conn, stop), name="bench-waits")
        try:
            yield
        finally:
            stop.set()
            await task
            await conn.close()

    async def _sample(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for row in await conn.fetch(SAMPLE, self._database):
                self._counts[(row["waiting"], row["statement"] or "")] += 1
            self._samples += 1
            await asyncio.sleep(INTERVAL)

    def top(self, n: int = 12) -> list[tuple[float, str, str]]:
        """(average backends, wait, statement), the most first."""
        if not self._samples:
            return []
        return [(count / self._samples, w, s) for (w, s), count in self._counts.most_common(n)]

    def print(self, n: int = 12) -> None:
        """The table, under the scenario's runs."""
        print(f"  what busy backends waited for ({self._samples} samples; average backends in each state):")
        for share, waiting, statement in self.top(n):
            print(f"    {share:5.2f}  {waiting:<24} {statement}", flush=True)
