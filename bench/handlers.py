"""Handlers the benchmark serves: work so small that the figures measure jobsvc itself."""

from __future__ import annotations

import asyncio
from typing import Any

from jobsvc import ConcurrencyLimit, FlowControl, JobContext, RateLimit, handler


@handler("noop", "1.0.0")
async def noop(ctx: JobContext, value: Any) -> Any:
    """Returns its input at once."""
    return value


@handler("emit", "1.0.0")
async def emit(ctx: JobContext, value: Any) -> int:
    """Emits `value["events"]` progress events as fast as it can, then returns how many."""
    events = int(value["events"])
    for index in range(events):
        ctx.progress(100.0 * index / events, "")
    return events


@handler("block", "1.0.0")
async def block(ctx: JobContext, value: Any) -> None:
    """Blocks until released: until the job is cancelled or the server stops (the task is cancelled)."""
    await asyncio.Event().wait()


@handler(
    "noop_limited",
    "1.0.0",
    flow=FlowControl(
        concurrency=ConcurrencyLimit(1_000_000, key="{handler}"),
        rate=RateLimit(1_000_000, period=1.0, key="{handler}"),
    ),
)
async def noop_limited(ctx: JobContext, value: Any) -> Any:
    """noop under a concurrency and a rate limit that never bind: what the limits cost."""
    return value
