"""Handlers that spawn child jobs, wait for them and sleep durably (tests/e2e/test_children.py).

Each parent records every run in its result, so a test sees how often it replayed."""

from __future__ import annotations

import asyncio
from typing import Any

from jobsvc import JobContext, NonRetryableError, RetryPolicy, handler


@handler("child_square", "1.0.0")
async def child_square(ctx: JobContext, value: dict[str, Any]) -> int:
    """Squares `x` after holding for `hold` seconds; `fail` fails it at once."""
    await asyncio.sleep(value.get("hold", 0))
    if value.get("fail"):
        raise NonRetryableError(f"no square for {value['x']}")
    return int(value["x"]) ** 2


# One attempt: a failed child fails it at once (a retry would find the same failed child).
@handler("fan_out", "1.0.0", retry_policy=RetryPolicy(maximum_attempts=1))
async def fan_out(ctx: JobContext, value: dict[str, Any]) -> dict[str, Any]:
    """Spawns one child_square per element of `xs` (holding `hold` s, failing on `fail`),
    waits for them all and returns their results."""
    children = [
        await ctx.spawn(
            "child_square",
            {"x": x, "hold": value.get("hold", 0), "fail": x == value.get("fail")},
            labels={"parent": ctx.job_id},
        )
        for x in value["xs"]
    ]
    return {"squares": await ctx.wait(children)}


@handler("nap", "1.0.0")
async def nap(ctx: JobContext, value: dict[str, Any]) -> dict[str, Any]:
    """Sleeps durably for `seconds`, then spawns one child and returns its result."""
    await ctx.sleep(value["seconds"])
    [square] = await ctx.wait([await ctx.spawn("child_square", {"x": 3})])
    return {"square": square}


@handler("spawn_unknown", "1.0.0")
async def spawn_unknown(ctx: JobContext, value: Any) -> None:
    """Spawns a handler nobody registered."""
    await ctx.spawn("no_such_handler", {})


# The README's example (tests/e2e/test_children.py checks that it is this code, verbatim).
@handler("areas", "1.0.0")
async def areas(ctx: JobContext, request: dict) -> dict:
    # One child job per size; each spawn's key is its order here ("0", "1", ...), so the
    # run after the wait gets the same children back instead of spawning new ones.
    children = [await ctx.spawn("child_square", {"x": n, "hold": 0.5}) for n in request["sizes"]]
    squares = await ctx.wait(children)  # parks (WAITING, no slot) until all have finished
    await ctx.sleep(request.get("cool_down", 0))  # durable: no slot, survives restarts
    return {"areas": squares}
