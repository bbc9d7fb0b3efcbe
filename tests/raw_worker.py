"""A Work stream driven by hand, message by message, for tests of the worker protocol."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from jobsvc.v1 import ack_service_pb2, ack_service_pb2_grpc, job_pb2

TIMEOUT = 20.0


class RawWorker:
    """One Work stream driven by hand: hello, then what the test sends (and an empty
    heartbeat every 0.5 s, so that the session counts the worker as heard from)."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        concurrency: int,
        *,
        handler: str,
        lease_seconds: int,
        accepts_batches: bool = False,
    ) -> None:
        hello = ack_service_pb2.WorkerInfo(
            worker_id="raw",
            concurrency=concurrency,
            handlers=[job_pb2.HandlerInfo(name=handler, version="1.0.0")],
            accepts_batches=accepts_batches,
        )
        hello.lease_duration.FromSeconds(lease_seconds)
        # Attempt tokens of the settlements sent (see barrier).
        self.sent: set[str] = set()
        self._hello = ack_service_pb2.WorkRequest(hello=hello)
        self.received: list[ack_service_pb2.WorkResponse] = []
        self._arrived = asyncio.Event()
        self._outbox: asyncio.Queue[ack_service_pb2.WorkRequest | None] = asyncio.Queue()
        self._call = ack_service_pb2_grpc.AckServiceStub(channel).Work(self._requests())
        self._tasks = [
            asyncio.create_task(self._receive(), name="raw-worker-receive"),
            asyncio.create_task(self._keep_talking(), name="raw-worker-heartbeat"),
        ]

    async def _requests(self) -> AsyncIterator[ack_service_pb2.WorkRequest]:
        yield self._hello
        while (request := await self._outbox.get()) is not None:
            yield request

    async def _receive(self) -> None:
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.CancelledError):
            async for response in self._call:
                self.received.append(response)
                self._arrived.set()

    async def _keep_talking(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.send(ack_service_pb2.WorkRequest(heartbeat=ack_service_pb2.HeartbeatRequest()))

    def send(self, request: ack_service_pb2.WorkRequest) -> None:
        """Queue one message for the server."""
        self._outbox.put_nowait(request)

    def of_kind(self, kind: str) -> list[Any]:
        """Every message received of one kind, in order; batched ones (`assignments`,
        `settled_batch`) count as the assignments and outcomes they carry."""
        batch = {"assignment": "assignments", "settled": "settled_batch"}.get(kind)
        found = []
        for response in self.received:
            received = response.WhichOneof("kind")
            if received == kind:
                found.append(getattr(response, kind))
            elif batch is not None and received == batch:
                found.extend(getattr(response, batch).items)
        return found

    async def until(self, found: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        """Wait until found() holds (re-checked at each message received)."""
        async with asyncio.timeout(timeout):
            while not found():
                self._arrived.clear()
                await self._arrived.wait()
        assert found(), what

    async def barrier(self) -> None:
        """Wait until the server has handled every message sent so far, and everything it
        queued for this worker before that has arrived: every settlement sent is answered
        (the server writes those of different jobs concurrently), then a progress report
        of no job, sent after them all, is refused (other messages are handled in order)."""
        await self.until(lambda: self.sent <= {s.attempt_token for s in self.of_kind("settled")}, "the answers")
        marker = str(uuid.uuid4())
        refused = ack_service_pb2.ReportProgressRequest(
            job_id=marker, attempt_token=marker, progress=job_pb2.Progress(percent=1)
        )
        self.send(ack_service_pb2.WorkRequest(progress=refused))
        await self.until(lambda: any(s.job_id == marker for s in self.of_kind("settled")), "the barrier")

    def ack(self, assignment: ack_service_pb2.Assignment) -> None:
        """Settle an assignment as succeeded."""
        ack = ack_service_pb2.AckRequest(job_id=assignment.job.id, attempt_token=assignment.attempt_token)
        ack.result.json.string_value = "done"
        self.sent.add(assignment.attempt_token)
        self.send(ack_service_pb2.WorkRequest(ack=ack))

    def cancelled_tokens(self) -> set[str]:
        """Attempt tokens the server told this worker to stop."""
        return {c.attempt_token for c in self.of_kind("cancel")}

    def settled_ok(self) -> set[str]:
        """Attempt tokens whose settlement the server confirmed (code 0)."""
        return {s.attempt_token for s in self.of_kind("settled") if s.code == 0}

    async def close(self) -> None:
        """End the stream and the tasks."""
        self._outbox.put_nowait(None)
        self._call.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
