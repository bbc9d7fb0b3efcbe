"""The job runners users would pick instead of jobsvc, measured in the same run on the same
PostgreSQL server (Celery: on its own redis-server), one module per peer; and `bare`, a
plain asyncpg SKIP LOCKED queue that no one would pick (it lacks nearly everything), run
as a peer for a ceiling: how fast moving jobs through this PostgreSQL can go.

Each module has `session(env)`: an async context manager that prepares a fresh database
(or broker) and yields a `Peer`, whose `consumer()` starts the peer's consumer the way its
users run it (its own CLI, in processes of its own) and stops it at the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class PeerEnv:
    """Where a peer session runs: its fresh database, the log directory, short or full mode."""

    database_url: str
    logs: Path
    quick: bool


class Peer(Protocol):
    """What the peer scenarios drive."""

    name: str
    # The settings given to the peer (consumer, batch sizes, pools), printed with the table.
    settings: str
    supports_call: bool
    # Processes besides PostgreSQL that the peer needs (Celery: redis-server), for CPU accounting.
    broker_pids: list[int]

    async def enqueue_one(self) -> None:
        """Enqueue one no-op job the peer's usual way; returns once it is durable."""

    async def enqueue_batch(self, size: int) -> int:
        """Enqueue `size` no-op jobs the peer's batch way; returns how many."""

    async def completed(self) -> int:
        """How many jobs the consumer has finished so far."""

    async def backlog(self) -> int:
        """How many jobs wait to be started."""

    def consumer(self) -> contextlib.AbstractAsyncContextManager[list[int]]:
        """Run the consumer process(es) for the block; yields their pids."""

    async def call_one(self) -> None:
        """A round trip: enqueue and wait for the result (only when supports_call)."""


PeerSession = Callable[[PeerEnv], contextlib.AbstractAsyncContextManager[Peer]]


def sessions() -> dict[str, PeerSession]:
    """Every peer by name, imported lazily so a missing optional dependency only costs that peer."""
    from bench.peers import bare_peer, celery_peer, pgqueuer_peer, procrastinate_peer

    return {
        "pgqueuer": pgqueuer_peer.session,
        "procrastinate": procrastinate_peer.session,
        "celery": celery_peer.session,
        "bare": bare_peer.session,
    }
