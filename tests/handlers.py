"""Handlers the test suite serves (also a worked example of writing handlers)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from jobsvc import JobContext, NonRetryableError, RetryPolicy, handler

log = logging.getLogger("tests.handlers")


@asynccontextmanager
async def lifespan() -> AsyncIterator[Mapping[str, Any]]:
    """Shared resources: set up once per process, given to every job."""
    yield {"greeting": "hello"}


@handler("echo", "1.0.0")
async def echo(ctx: JobContext, value: Any) -> Any:
    """Returns its input."""
    return value


@handler(
    "greet",
    "1.0.0",
    input_schema={
        "type": "object",
        "properties": {"name": {"type": "string", "minLength": 1}},
        "required": ["name"],
        "additionalProperties": False,
    },
)
async def greet(ctx: JobContext, value: dict[str, str]) -> str:
    """Uses a lifespan resource."""
    return f"{ctx.resources['greeting']}, {value['name']}"


@handler("resize_image", "1.4.0")
async def resize_v1(ctx: JobContext, value: dict[str, Any]) -> dict[str, Any]:
    """Old API: width only."""
    return {"version": ctx.version, "width": value.get("width", 0)}


@handler("resize_image", "2.0.0")
async def resize_v2(ctx: JobContext, value: dict[str, Any]) -> dict[str, Any]:
    """New API."""
    return {"version": ctx.version, "size": [value.get("width", 0), value.get("height", 0)]}


@handler("resize_image", "2.1.0")
def resize_v21(ctx: JobContext, value: dict[str, Any]) -> dict[str, Any]:
    """A blocking handler (runs in a thread)."""
    return {"version": ctx.version, "size": [value.get("width", 0), value.get("height", 0)]}


@handler("fail", "1.0.0", retry_policy=RetryPolicy(maximum_attempts=1))
async def fail(ctx: JobContext, value: Any) -> None:
    """Always raises."""
    raise ValueError(f"bad value: {value!r}")


@handler("block", "1.0.0")
def block(ctx: JobContext, value: dict[str, float]) -> str:
    """Blocks its thread (as CPU-bound or legacy code would)."""
    time.sleep(value.get("seconds", 1.0))
    return "unblocked"


@handler("steps", "1.0.0")
async def steps(ctx: JobContext, value: dict[str, Any]) -> dict[str, int]:
    """Reports progress and partial output, pausing between steps."""
    count, pause = int(value.get("count", 3)), float(value.get("pause", 0.0))
    for index in range(count):
        ctx.progress(100 * (index + 1) / count, f"step {index + 1}/{count}")
        ctx.partial_output({"step": index + 1})
        await asyncio.sleep(pause)
    return {"steps": count}


@handler("chunks", "1.0.0")
async def chunks(ctx: JobContext, value: dict[str, int]) -> AsyncIterator[str]:
    """A generator: each chunk streams as partial output."""
    for index in range(value.get("count", 3)):
        yield f"chunk-{index}"


@handler("sync_chunks", "1.0.0")
def sync_chunks(ctx: JobContext, value: dict[str, int]) -> Iterator[int]:
    """A blocking generator."""
    yield from range(value.get("count", 3))


@handler("wait_cancel", "1.0.0")
async def wait_cancel(ctx: JobContext, value: Any) -> str:
    """Runs until cancelled."""
    await asyncio.sleep(3600)
    return "never"


@handler("sleepy", "1.0.0")
async def sleepy(ctx: JobContext, value: dict[str, float]) -> dict[str, int]:
    """Sleeps, then reports the attempt that finished it."""
    await asyncio.sleep(value.get("seconds", 1.0))
    return {"attempt": ctx.attempt}


CACHED_RUNS: list[Any] = []


@handler("cached_square", "1.0.0", cache_ttl=60)
async def cached_square(ctx: JobContext, value: int) -> int:
    """Declares a result cache: identical input within a minute is not run again."""
    CACHED_RUNS.append(value)
    return value * value


@handler("hang", "1.0.0", attempt_timeout=0.3, retry_policy=RetryPolicy(initial_interval=0.05, maximum_attempts=2))
async def hang(ctx: JobContext, value: Any) -> str:
    """Hangs on its first attempt, answers on the second."""
    if ctx.attempt == 1:
        await asyncio.sleep(3600)
    return f"attempt {ctx.attempt}"


@handler("reject_me", "1.0.0")
async def reject_me(ctx: JobContext, value: Any) -> None:
    """Fails in a way no retry can fix."""
    raise NonRetryableError("the input can never work")


@handler("short_lived", "1.0.0", retention=0.2)
async def short_lived(ctx: JobContext, value: Any) -> Any:
    """Finished jobs are deleted almost at once."""
    return value


@handler("flaky", "1.0.0", retry_policy=RetryPolicy(initial_interval=0.05, maximum_attempts=3))
async def flaky(ctx: JobContext, value: Any) -> str:
    """Fails its first attempt, succeeds on the second; logs on each (without the input)."""
    log.info("flaky handler working on attempt %d", ctx.attempt)
    if ctx.attempt == 1:
        raise RuntimeError(f"first attempts fail: {value!r}")
    return "recovered"


@handler("flaky_blocking", "1.0.0", retry_policy=RetryPolicy(initial_interval=0.05, maximum_attempts=3))
def flaky_blocking(ctx: JobContext, value: Any) -> str:
    """flaky, as a blocking handler: its log lines are written from a worker thread."""
    log.info("blocking flaky handler working on attempt %d", ctx.attempt)
    if ctx.attempt == 1:
        raise RuntimeError(f"first attempts fail: {value!r}")
    return "recovered"


@handler("sized", "1.0.0")
async def sized(ctx: JobContext, value: dict[str, int]) -> str:
    """A result of value["bytes"] characters, after a partial output of value["partial"] (if any)."""
    if value.get("partial"):
        ctx.partial_output("p" * value["partial"])
    return "r" * value.get("bytes", 0)


@handler("sized_blocking", "1.0.0")
def sized_blocking(ctx: JobContext, value: dict[str, int]) -> Iterator[str]:
    """A blocking generator whose one chunk (partial output) is value["partial"] characters."""
    yield "p" * value["partial"]


SWALLOWED: list[str] = []


@handler("sized_swallowing", "1.0.0")
async def sized_swallowing(ctx: JobContext, value: dict[str, int]) -> str:
    """Sends a partial output of value["partial"] characters, swallows what that raises, returns."""
    try:
        ctx.partial_output("p" * value["partial"])
    except Exception as exc:  # the handler's own choice: the attempt fails anyway
        SWALLOWED.append(type(exc).__name__)
    return "carried on"
