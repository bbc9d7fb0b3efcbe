"""Stream with several events per message (StreamRequest.max_events_per_message): the
same events, in the same order, as one per message; never more than asked for or than
the message limit allows; never held back to fill a batch; resumable from any sequence."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest

from jobsvc.api.services import _event_messages
from jobsvc.domain.jobs import EventKind, JobEvent
from jobsvc.domain.limits import field_size
from jobsvc.sdk import Client, job_spec
from jobsvc.server import ConnectionConfig, JobsvcServer
from jobsvc.v1 import job_pb2, stream_service_pb2, stream_service_pb2_grpc
from tests.conftest import StartServer

BOUND = 10.0  # seconds: a stream that has not ended by then hangs


async def _responses(
    channel: grpc.aio.Channel, request: stream_service_pb2.StreamRequest
) -> list[stream_service_pb2.StreamResponse]:
    stub = stream_service_pb2_grpc.StreamServiceStub(channel)
    return [response async for response in stub.Stream(request, timeout=BOUND)]


def _flat(responses: list[stream_service_pb2.StreamResponse]) -> list[job_pb2.JobEvent]:
    return [event for response in responses for event in response.events]


async def test_batched_events_are_the_events_sent_one_by_one(server: JobsvcServer, client: Client) -> None:
    """Proves: with max_events_per_message 7 a job of 43 events arrives whole and in order,
    7 at most to a message and in `events` only; the same events as one per message (the
    request without the field, as older clients send it); resumed after any sequence, the
    rest and only the rest."""
    job = await client.call("steps", {"count": 20}, timeout=BOUND)
    assert job.last_sequence == 43  # queued, started, 20 x (progress, partial output), succeeded
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        single = await _responses(channel, stream_service_pb2.StreamRequest(job_id=job.id))
        assert all(r.HasField("event") and not r.events for r in single)
        one_by_one = [r.event for r in single]
        batched = await _responses(channel, stream_service_pb2.StreamRequest(job_id=job.id, max_events_per_message=7))
        assert all(1 <= len(r.events) <= 7 and not r.HasField("event") for r in batched)
        assert len(batched) >= 43 // 7
        assert _flat(batched) == one_by_one
        assert [e.sequence for e in one_by_one] == list(range(1, 44))
        for after in (1, 6, 7, 8, 42, 43):
            rest = await _responses(
                channel,
                stream_service_pb2.StreamRequest(job_id=job.id, after_sequence=after, max_events_per_message=7),
            )
            assert _flat(rest) == one_by_one[after:], after


async def test_a_batch_never_waits_for_events_that_are_not_there(server: JobsvcServer, client: Client) -> None:
    """Proves: a running job's events reach the stream as they are written, though far
    fewer than max_events_per_message are ready (each step sleeps 0.3 s)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = stream_service_pb2_grpc.StreamServiceStub(channel)
        request = stream_service_pb2.StreamRequest(
            submit=job_spec("steps", {"count": 4, "pause": 0.3}), max_events_per_message=1000
        )
        loop = asyncio.get_running_loop()
        arrivals: list[tuple[float, list[str]]] = []
        started = loop.time()
        async for response in stub.Stream(request, timeout=BOUND):
            arrivals.append((loop.time() - started, [e.WhichOneof("kind") or "" for e in response.events]))
    kinds = [kind for _, batch in arrivals for kind in batch]
    assert kinds[0] == "queued" and kinds[-1] == "succeeded" and kinds.count("progress") == 4
    # The first progress came in a message well before the job ended (>= 0.9 s after it began).
    first_progress = next(at for at, batch in arrivals if "progress" in batch)
    assert first_progress < arrivals[-1][0] - 0.5, arrivals
    assert len(arrivals) >= 4, arrivals


LIMIT = 64 * 1024


async def test_batches_stay_under_the_message_limit(start_server: StartServer) -> None:
    """Proves: events near --max-message-bytes together (a partial output and a result of
    28,000 bytes each, the largest payloads a 64 KiB limit allows) are streamed whole,
    each message within the limit. (_event_messages' own test splits by size.)"""
    server = await start_server(connection=ConnectionConfig(max_message_bytes=LIMIT))
    async with Client(f"127.0.0.1:{server.port}") as client:
        job = await client.call("sized", {"partial": 28_000, "bytes": 28_000}, timeout=BOUND)
        assert job.state == job_pb2.JOB_STATE_SUCCEEDED
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            batched = await _responses(
                channel, stream_service_pb2.StreamRequest(job_id=job.id, max_events_per_message=1000)
            )
        assert all(r.ByteSize() <= LIMIT for r in batched), [r.ByteSize() for r in batched]
        events = _flat(batched)
        assert [e.sequence for e in events] == list(range(1, job.last_sequence + 1))
        assert [e.WhichOneof("kind") for e in events] == ["queued", "started", "partial_output", "succeeded"]
        # The SDK asks for batches and hands the same events out one by one.
        assert [e.sequence async for e in client.stream(job.id)] == [e.sequence for e in events]


@pytest.mark.parametrize("asked", [0, 1, 2**32 - 1])
async def test_any_max_events_per_message_is_answered(server: JobsvcServer, client: Client, asked: int) -> None:
    """Proves: 0 and 1 mean one event per message in `event`; anything larger is capped
    (never refused): the largest uint32 streams the job like any batch size."""
    job = await client.call("steps", {"count": 2}, timeout=BOUND)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        responses = await _responses(
            channel, stream_service_pb2.StreamRequest(job_id=job.id, max_events_per_message=asked)
        )
    events = _flat(responses) if asked > 1 else [r.event for r in responses]
    assert [e.sequence for e in events] == list(range(1, job.last_sequence + 1))


def test_event_messages_split_by_count_and_by_size() -> None:
    """Proves: a batch goes out in messages of at most `most` events and at most `budget`
    bytes, in order; an event larger than the budget alone goes alone (the response size
    check then answers it as it would one event per message)."""

    def event(seq: int, message: str) -> JobEvent:
        return JobEvent("j", seq, EventKind.PROGRESS, datetime.now(UTC), {"percent": 1.0, "message": message})

    batch = [event(seq, "x" * (5000 if seq in (4, 5) else 10)) for seq in range(1, 10)]
    by_count = list(_event_messages(batch, 3, 10**6))
    assert [[e.sequence for e in m] for m in by_count] == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    by_size = list(_event_messages(batch, 1000, 4000))
    assert [[e.sequence for e in m] for m in by_size] == [[1, 2, 3], [4], [5], [6, 7, 8, 9]]
    assert all(sum(field_size(e.ByteSize()) for e in m) <= 4000 for m in by_size if len(m) > 1)
