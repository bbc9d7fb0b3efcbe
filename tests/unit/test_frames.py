"""Batching on the Work stream (jobsvc.codec.frames): what is ready goes now, in order,
consecutive messages of one kind as one message, never over the byte budget."""

from __future__ import annotations

import asyncio

from jobsvc.codec import frames
from jobsvc.v1 import ack_service_pb2, job_pb2

Response = ack_service_pb2.WorkResponse
Request = ack_service_pb2.WorkRequest


def _assignment(n: int, size: int = 0) -> Response:
    assignment = ack_service_pb2.Assignment(attempt_token=f"t{n}", job=job_pb2.Job(id=f"j{n}"))
    assignment.job.input.json.string_value = "x" * size
    return Response(assignment=assignment)


def _settled(n: int) -> Response:
    return Response(settled=Response.Settled(job_id=f"j{n}", attempt_token=f"t{n}"))


def _cancel(n: int) -> Response:
    return Response(cancel=Response.Cancel(job_id=f"j{n}", attempt_token=f"t{n}"))


def _flatten(responses: list[Response]) -> list[tuple[str, str]]:
    """(kind, job id) of everything the messages carry, in order, batches unpacked."""
    out = []
    for response in responses:
        kind = response.WhichOneof("kind")
        if kind == "assignments":
            out += [("assignment", a.job.id) for a in response.assignments.items]
        elif kind == "settled_batch":
            out += [("settled", s.job_id) for s in response.settled_batch.items]
        elif kind == "assignment":
            out.append((kind, response.assignment.job.id))
        else:
            out.append((str(kind), getattr(response, str(kind)).job_id))
    return out


def test_consecutive_messages_of_a_kind_go_as_one_and_order_is_kept() -> None:
    sent = [_assignment(1), _assignment(2), _assignment(3), _cancel(9), _settled(1), _settled(2), _assignment(4)]
    out = list(frames.batched_responses(sent, budget=1 << 20))
    assert [r.WhichOneof("kind") for r in out] == ["assignments", "cancel", "settled_batch", "assignment"]
    assert _flatten(out) == _flatten(sent)
    assert out[-1] is sent[-1], "a lone message goes as it was"


def test_a_batch_never_exceeds_the_budget_and_an_oversized_item_goes_alone() -> None:
    sent = [_assignment(n, size=300) for n in range(10)] + [_assignment(99, size=5000), _assignment(100)]
    out = list(frames.batched_responses(sent, budget=1000))
    assert _flatten(out) == _flatten(sent)
    assert all(r.ByteSize() <= 1000 + 16 for r in out if r.WhichOneof("kind") == "assignments")
    assert len(out) > 3
    assert any(r is sent[10] for r in out), "the item over the budget was not sent alone, as it was"


def test_settlements_and_progress_of_a_worker_share_one_batch() -> None:
    ack = Request(ack=ack_service_pb2.AckRequest(job_id="a", attempt_token="ta"))
    nack = Request(nack=ack_service_pb2.NackRequest(job_id="b", attempt_token="tb"))
    progress = Request(progress=ack_service_pb2.ReportProgressRequest(job_id="a", attempt_token="ta"))
    heartbeat = Request(heartbeat=ack_service_pb2.HeartbeatRequest())
    out = list(frames.batched_requests([progress, ack, nack, heartbeat, ack], budget=1 << 20))
    assert [r.WhichOneof("kind") for r in out] == ["batch", "heartbeat", "ack"]
    assert [i.WhichOneof("kind") for i in out[0].batch.items] == ["progress", "ack", "nack"]
    assert out[0].batch.items[1].ack.job_id == "a"


def test_ready_takes_what_is_queued_now_and_stops_at_the_end_marker() -> None:
    queue: asyncio.Queue[Response | None] = asyncio.Queue()
    for n in range(3):
        queue.put_nowait(_settled(n))
    items, ended = frames.ready(queue, _settled(-1))
    assert [i.settled.job_id for i in items] == ["j-1", "j0", "j1", "j2"] and not ended
    queue.put_nowait(_settled(5))
    queue.put_nowait(None)
    queue.put_nowait(_settled(6))
    items, ended = frames.ready(queue, _settled(4))
    assert len(items) == 2 and ended and queue.qsize() == 1
    for n in range(10):
        queue.put_nowait(_settled(n))
    items, _ = frames.ready(queue, _settled(-1), limit=4)
    assert len(items) == 4
