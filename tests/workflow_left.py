"""A handler only one of the replicas in tests/e2e/test_workflows.py serves (the other
serves tests/workflow_right.py): the two parents of a join finish on two replicas."""

from __future__ import annotations

from typing import Any

from jobsvc import JobContext, handler
from tests.workflow_handlers import finish_at


@handler("join_left", "1.0.0")
async def join_left(ctx: JobContext, value: dict[str, Any]) -> dict[str, Any]:
    """Returns at the wall-clock instant value["at"], as join_right does on the other replica."""
    return await finish_at("left", value)
