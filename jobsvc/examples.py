"""Example handlers, served by `make serve` (`jobsvc serve --handlers jobsvc.examples`).

They show the shapes a handler can take; copy one into your own module to start.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from jobsvc.domain.handlers import JobContext, handler
from jobsvc.domain.values import JsonValue

_SIZE: JsonValue = {"type": "integer", "minimum": 1, "maximum": 10000}


@handler("echo", "1.0.0", description="Returns its input unchanged.")
async def echo(ctx: JobContext, value: Any) -> Any:
    """Returns its input unchanged."""
    return value


@handler(
    "resize_image",
    "1.4.0",
    input_schema={
        "type": "object",
        "properties": {"url": {"type": "string"}, "width": _SIZE},
        "required": ["url", "width"],
        "additionalProperties": False,
    },
)
async def resize_image_v1(ctx: JobContext, request: dict[str, Any]) -> dict[str, Any]:
    """Version 1: keeps the aspect ratio of a 4:3 image, given a width."""
    width = int(request["width"])
    return {"url": f"{request['url']}?w={width}", "width": width, "height": width * 3 // 4}


@handler(
    "resize_image",
    "2.0.0",
    input_schema={
        "type": "object",
        "properties": {"url": {"type": "string"}, "width": _SIZE, "height": _SIZE},
        "required": ["url", "width", "height"],
        "additionalProperties": False,
    },
    output_schema={"type": "object", "required": ["url", "size"]},
)
async def resize_image_v2(ctx: JobContext, request: dict[str, Any]) -> dict[str, Any]:
    """Version 2: exact width and height, reported as progress through three stages."""
    for percent, stage in ((30, "downloaded"), (80, "resized"), (100, "uploaded")):
        await asyncio.sleep(0.1)
        ctx.progress(percent, stage)
    width, height = int(request["width"]), int(request["height"])
    return {"url": f"{request['url']}?w={width}&h={height}", "size": [width, height]}


@handler("count_words", "1.0.0", input_schema={"type": "string"})
async def count_words(ctx: JobContext, text: str) -> AsyncIterator[dict[str, int]]:
    """Streams a running count per line (partial output); the result is every partial."""
    total = 0
    for number, line in enumerate(text.splitlines(), start=1):
        total += len(line.split())
        yield {"line": number, "words": total}
