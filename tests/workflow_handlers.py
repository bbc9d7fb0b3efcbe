"""What the workflow tests' handlers share."""

from __future__ import annotations

import asyncio
import time
from typing import Any


async def finish_at(side: str, value: dict[str, Any]) -> dict[str, Any]:
    """Sleep until the wall-clock instant value["at"] (seconds since the epoch), so that
    two jobs given the same instant finish together wherever they run."""
    await asyncio.sleep(max(0.0, float(value["at"]) - time.time()))
    return {"side": side, "n": value.get("n")}
