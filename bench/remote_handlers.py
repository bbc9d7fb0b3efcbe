"""The handler the benchmark's remote workers (`jobsvc worker`) serve.

A name of its own, which the server's in-process executor does not serve, so that the
remote-worker figures measure remote workers only.
"""

from __future__ import annotations

from typing import Any

from jobsvc import JobContext, handler


@handler("noop_remote", "1.0.0")
async def noop_remote(ctx: JobContext, value: Any) -> Any:
    """Returns its input at once."""
    return value
