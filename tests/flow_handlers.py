"""Handlers with flow control, for tests/api/test_flow_service.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from jobsvc import ConcurrencyLimit, Fairness, FlowControl, JobContext, RateLimit, handler


@handler("limited", "1.0.0", flow=FlowControl(concurrency=ConcurrencyLimit(3, key="{input.customer}")))
async def limited(ctx: JobContext, request: dict[str, Any]) -> dict[str, Any]:
    """Sleeps; reports when it ran, so a test can check how many overlapped per key."""
    start = time.time()
    await asyncio.sleep(request.get("sleep", 0.02))
    return {"customer": request["customer"], "start": start, "end": time.time()}


@handler("metered", "1.0.0", flow=FlowControl(rate=RateLimit(20, period=1.0)))
async def metered(ctx: JobContext, request: Any) -> None:
    """At most 20 starts per second, across every replica."""


@handler("tenant_work", "1.0.0", flow=FlowControl(fairness=Fairness(key="{input.tenant}")))
async def tenant_work(ctx: JobContext, request: Any) -> None:
    """Turns between tenants."""


@handler("ticker", "1.0.0")
async def ticker(ctx: JobContext, request: Any) -> Any:
    """What a schedule submits."""
    return request


@handler(
    "keyed",
    "1.0.0",
    flow=FlowControl(
        concurrency=ConcurrencyLimit(2, key="{handler}/{input.customer}/{label.tenant}"),
        rate=RateLimit(50, period=2.5, key="{input.url|host}"),
        fairness=Fairness(key="{version}:{input.n}", spacing=0.5),
    ),
)
async def keyed(ctx: JobContext, request: Any) -> None:
    """Every kind of key placeholder: jobsvc_submit must render them as gRPC Submit does."""
