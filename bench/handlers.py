"""Handlers the benchmark serves: work so small that the figures measure jobsvc itself."""

from __future__ import annotations

from typing import Any

from jobsvc import JobContext, handler


@handler("noop", "1.0.0")
async def noop(ctx: JobContext, value: Any) -> Any:
    """Returns its input at once."""
    return value
