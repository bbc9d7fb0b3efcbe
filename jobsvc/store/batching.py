"""Coalescing concurrent single-item writes into one statement (group commit)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """Callers `await submit(item)`; items that arrive while a flush is in flight go
    together in the next one. No timer: a lone caller pays one round trip, a crowd
    shares them. Each caller gets its own result (or exception) only after the flush
    that carried its item has committed.

    `flush(items)` returns one result per item, in order. When it raises, every caller
    of that flush gets the exception, unless `retry_one_by_one` is true: then each item
    is flushed alone, so one bad item fails only its own caller.
    """

    def __init__(
        self,
        flush: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int = 512,
        max_in_flight: int = 2,
        retry_one_by_one: Callable[[BaseException], bool] = lambda _exc: False,
        name: str = "jobsvc-coalescer",
    ) -> None:
        self._flush_items = flush
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._retry_one_by_one = retry_one_by_one
        self._name = name
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []

    async def submit(self, item: Item) -> Result:
        """Write one item with whatever else is waiting; its result."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._in_flight < self._max_in_flight:
            self._in_flight += 1
            task = asyncio.create_task(self._drain(), name=self._name)
            self._tasks.add(task)  # a reference, so the task is not collected mid-flight
            task.add_done_callback(self._tasks.discard)
        return await future

    def refuse_waiting(self, exc: BaseException) -> int:
        """Fail every item still waiting for a flush (none of them was sent) with `exc`;
        how many. Flushes in flight are left to finish or fail on their own."""
        waiting, self._queue = self._queue, []
        for _, future in waiting:
            if not future.done():
                future.set_exception(exc)
        return len(waiting)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                await self._run(batch)
        finally:
            self._in_flight -= 1

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._flush_items([item for item, _ in batch])
        except Exception as exc:
            if len(batch) > 1 and self._retry_one_by_one(exc):
                for one in batch:
                    await self._run([one])
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
