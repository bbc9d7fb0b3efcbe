"""Closed-loop load generation and latency statistics.

A closed loop: each of `workers` callers sends its next request as soon as the previous
one answered, until the deadline. Throughput is completed requests over the time from the
first send to the last answer; latencies are per request, in seconds.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc

# A worker never sends more than this many requests in one loop, whatever the duration.
MAX_REQUESTS_PER_WORKER = 1_000_000


@dataclass
class LoadResult:
    """What one closed loop measured."""

    workers: int
    elapsed: float
    latencies: list[float] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def completed(self) -> int:
        """Requests that succeeded."""
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return self.completed / self.elapsed if self.elapsed > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        """The q-th percentile (0..100) of the latencies, in milliseconds."""
        return percentile(self.latencies, q) * 1000.0


Operation = Callable[[int], Awaitable[None]]


async def closed_loop(workers: int, duration: float, operation: Operation) -> LoadResult:
    """Run `operation(i)` from `workers` concurrent callers for `duration` seconds.

    An operation that raises grpc.aio.AioRpcError (or RuntimeError, for a wrong answer)
    counts as an error, not a latency; anything else propagates.
    """
    result = LoadResult(workers=workers, elapsed=0.0)
    start = time.perf_counter()
    deadline = start + duration

    async def caller(worker: int) -> None:
        for sequence in range(MAX_REQUESTS_PER_WORKER):
            sent = time.perf_counter()
            if sent >= deadline:
                return
            try:
                await operation(worker * MAX_REQUESTS_PER_WORKER + sequence)
            except grpc.aio.AioRpcError as exc:
                result.errors[exc.code().name] += 1
            except RuntimeError as exc:
                result.errors[str(exc)] += 1
            else:
                result.latencies.append(time.perf_counter() - sent)

    await asyncio.gather(*(caller(w) for w in range(workers)))
    result.elapsed = time.perf_counter() - start
    return result


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0..100) of values; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]
