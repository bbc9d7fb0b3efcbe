"""Batches on the Work stream: the messages ready to go, consecutive ones of one kind
sent as one message, for the server (assignments, outcomes) and the Python worker
(settlements, progress) alike.

Nothing waits to fill a batch: a sender takes the message it was waiting for and
whatever else is queued at that moment. At low load every message goes alone, with no
added latency; under load one message carries many, and the per-message cost of gRPC
(on both ends) is paid once per batch. Order is kept: a message of another kind ends
the batch before it. A batch never exceeds the byte budget (the receiver's message
limit); an item over the budget alone goes alone, as it would have without batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from google.protobuf.message import Message

from jobsvc.v1 import ack_service_pb2

M = TypeVar("M", bound=Message)

# The most messages one batch carries (a bound on the work done between two awaits).
MAX_BATCH = 256
# What a repeated field's entry costs beyond its message's size (tag and length prefix).
_ENTRY_OVERHEAD = 8

_RESPONSE_BATCHES: dict[str, Callable[[list[Message]], ack_service_pb2.WorkResponse]] = {
    "assignment": lambda items: ack_service_pb2.WorkResponse(
        assignments=ack_service_pb2.WorkResponse.Assignments(items=items)  # type: ignore[arg-type]
    ),
    "settled": lambda items: ack_service_pb2.WorkResponse(
        settled_batch=ack_service_pb2.WorkResponse.SettledBatch(items=items)  # type: ignore[arg-type]
    ),
}
_REQUEST_KINDS = ("ack", "nack", "reject", "progress")


def ready(queue: asyncio.Queue[Any], first: M, limit: int = MAX_BATCH) -> tuple[list[M], bool]:
    """`first` and the messages queued now (up to `limit` in all); and whether the queue's
    end marker (None) was taken."""
    items = [first]
    while len(items) < limit and not queue.empty():
        item = queue.get_nowait()
        if item is None:
            return items, True
        items.append(item)
    return items, False


def batched_responses(
    responses: Iterable[ack_service_pb2.WorkResponse], budget: int
) -> Iterator[ack_service_pb2.WorkResponse]:
    """The server's messages to a worker that accepts batches, consecutive assignments
    (and consecutive outcomes) combined."""

    def batch(kind: str, items: list[Message]) -> ack_service_pb2.WorkResponse:
        return _RESPONSE_BATCHES[kind](items)

    return _combined(responses, set(_RESPONSE_BATCHES), batch, budget)


def batched_requests(
    requests: Iterable[ack_service_pb2.WorkRequest], budget: int
) -> Iterator[ack_service_pb2.WorkRequest]:
    """A worker's messages to a server that accepts batches, consecutive settlements and
    progress reports combined into one `batch`."""

    def batch(_: str, items: list[Message]) -> ack_service_pb2.WorkRequest:
        return ack_service_pb2.WorkRequest(
            batch=ack_service_pb2.WorkRequest.Batch(items=items)  # type: ignore[arg-type]
        )

    def as_item(request: ack_service_pb2.WorkRequest, kind: str) -> Message:
        item = ack_service_pb2.WorkRequest.Batch.Item()
        getattr(item, kind).CopyFrom(getattr(request, kind))
        return item

    # Every settlement becomes an item of one kind ("item"), so that an ack, a nack and
    # a progress report in a row share one batch.
    return _combined(requests, set(_REQUEST_KINDS), batch, budget, as_item=as_item, same_kind=True)


def _combined(
    messages: Iterable[M],
    kinds: set[str],
    batch: Callable[[str, list[Message]], M],
    budget: int,
    *,
    as_item: Callable[[M, str], Message] | None = None,
    same_kind: bool = False,
) -> Iterator[M]:
    """Consecutive messages whose kind is in `kinds` (of one kind, unless same_kind says
    they all count as one) combined by `batch` into messages of at most `budget` bytes."""
    group: list[Message] = []
    group_kind = ""
    group_bytes = 0
    originals: list[M] = []

    def flush() -> Iterator[M]:
        if len(originals) == 1:
            yield originals[0]  # alone, as it was
        elif group:
            yield batch(group_kind, list(group))
        group.clear()
        originals.clear()

    for message in messages:
        kind = message.WhichOneof("kind") or ""
        if kind not in kinds:
            yield from flush()
            yield message
            continue
        item = as_item(message, kind) if as_item is not None else getattr(message, kind)
        size = item.ByteSize() + _ENTRY_OVERHEAD
        fits = group_bytes + size <= budget
        if group and (not fits or (not same_kind and kind != group_kind)):
            yield from flush()
        if not group:
            group_kind, group_bytes = kind, 0
        group.append(item)
        originals.append(message)
        group_bytes += size
    yield from flush()
