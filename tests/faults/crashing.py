"""A handler that takes its whole process down, served only by child worker processes
(never loaded by an in-process server: it would end the test run)."""

from __future__ import annotations

import os
from typing import Any

from jobsvc import JobContext, handler
from tests.faults.handlers import FAST_RETRIES, ExecutionLog, lifespan

__all__ = ["fault_crash", "lifespan"]


@handler("fault_crash", "1.0.0", retry_policy=FAST_RETRIES)
async def fault_crash(ctx: JobContext, value: Any) -> None:
    """Poison: records its start, then exits the process at once (as a segfault would)."""
    log: ExecutionLog = ctx.resources["ledger"]
    await log.started(ctx)
    os._exit(1)
