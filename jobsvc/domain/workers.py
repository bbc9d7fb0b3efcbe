"""A remote worker as the server knows it: who it is, the handler versions it serves,
how many jobs it runs at once and how long its leases last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jobsvc.domain.jobs import HandlerSpec

# Bounds of what a worker may declare (its hello, or the worker of a unary Lease).
MAX_CONCURRENCY = 1000
MAX_WORKER_ID = 200
MAX_LEASE_SECONDS = 600.0
MIN_LEASE_SECONDS = 2.0


@dataclass(frozen=True)
class Worker:
    """A validated WorkerInfo."""

    worker_id: str
    handlers: list[HandlerSpec]
    concurrency: int
    lease_seconds: float

    @property
    def keys(self) -> list[str]:
        """`name@version` of every version it serves."""
        return [f"{h.name}@{h.version}" for h in self.handlers]

    @property
    def limited(self) -> bool:
        """Whether any version it serves has flow control (claims must apply limits)."""
        return any(h.flow for h in self.handlers)


@dataclass(frozen=True)
class WorkerSession:
    """A worker session connected to some replica, as the session directory lists it."""

    session_id: str
    worker_id: str
    # `name@version` of every version it serves.
    keys: list[str]
    capacity: int
    in_flight: int
    replica: str
    connected_at: datetime
    refreshed_at: datetime
