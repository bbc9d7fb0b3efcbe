"""The other replica's half of tests/workflow_left.py."""

from __future__ import annotations

from typing import Any

from jobsvc import JobContext, handler
from tests.workflow_handlers import finish_at


@handler("join_right", "1.0.0")
async def join_right(ctx: JobContext, value: dict[str, Any]) -> dict[str, Any]:
    """Returns at the wall-clock instant value["at"], as join_left does on the other replica."""
    return await finish_at("right", value)
