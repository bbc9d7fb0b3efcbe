"""StreamWorkflow against real servers and PostgreSQL: every step's events, tagged with
their step, in one gap-free sequence that every reader (on any replica) sees in the same
order, resumable from any sequence, ending when the workflow ends."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import grpc
import pytest

from jobsvc.sdk import Client, workflow_step
from jobsvc.v1 import workflow_service_pb2
from tests.conftest import StartServer

WF = workflow_service_pb2
TERMINAL = {"succeeded", "failed", "cancelled"}

# A root whose result is a list, a step mapped over it (5 elements, each reporting
# progress and partial output), a side branch, and a join of both: events of many steps
# interleave while the stream is read.
STEPS = [
    workflow_step("root", "echo", {"items": [{"count": 3, "pause": 0.02}] * 5}),
    workflow_step("each", "steps", {}, map_over=("root", "items")),
    workflow_step("side", "steps", {"count": 4, "pause": 0.03}, depends_on=["root"]),
    workflow_step("join", "echo", {}, inputs={"each": "each", "side": "side"}),
]


def key(event: WF.StreamWorkflowResponse) -> tuple[int, str, str, int, str]:
    return (event.sequence, event.step, event.event.job_id, event.event.sequence, event.event.WhichOneof("kind") or "")


async def read_all(client: Client, workflow_id: str, after: int = 0) -> list[tuple[int, str, str, int, str]]:
    """The whole stream from `after`, bounded in time."""

    async def read() -> list[tuple[int, str, str, int, str]]:
        return [key(event) async for event in client.stream_workflow(workflow_id, after_sequence=after)]

    return await asyncio.wait_for(read(), 30)


async def test_one_gap_free_sequence_the_same_for_every_reader_and_resumable(
    client: Client, start_server: StartServer, database_url: str
) -> None:
    other = await start_server()
    async with Client(f"127.0.0.1:{other.port}") as elsewhere:
        workflow = await client.submit_workflow(STEPS, name="streamed", timeout=10)
        # Three readers from the start, two replicas; a fourth reads a few events, drops
        # the connection, and resumes from the last sequence it saw.
        first, second, third = (
            asyncio.create_task(read_all(reader, workflow.id)) for reader in (client, elsewhere, client)
        )
        head: list[tuple[int, str, str, int, str]] = []
        async for event in client.stream_workflow(workflow.id):
            head.append(key(event))
            if len(head) == 4:
                break
        resumed = head + await read_all(elsewhere, workflow.id, after=head[-1][0])
        seen = [await first, await second, await third, resumed]

    done = await client.get_workflow(workflow.id)
    assert done.state == WF.WORKFLOW_STATE_SUCCEEDED  # the streams ended when it did
    events = seen[0]
    assert all(other_reader == events for other_reader in seen[1:])
    assert [e[0] for e in events] == list(range(1, len(events) + 1))  # 1, 2, 3, ... no gap

    # Each step's events: its job's own 1..last_seq, in order, once, ending with its terminal one.
    by_step: dict[str, list[tuple[int, str, str, int, str]]] = {}
    for seen_event in events:
        by_step.setdefault(seen_event[1], []).append(seen_event)
    assert sorted(by_step) == sorted(step.name for step in done.steps)
    assert {"each[0]", "each[4]", "join"} <= by_step.keys()
    for step in done.steps:
        mine = by_step[step.name]
        assert {e[2] for e in mine} == {step.job.id}
        assert [e[3] for e in mine] == list(range(1, step.job.last_sequence + 1)), step.name
        assert mine[-1][4] == "succeeded" and all(e[4] not in TERMINAL for e in mine[:-1])
    assert any(e[4] == "progress" for e in by_step["side"]) and any(
        e[4] == "partial_output" for e in by_step["each[2]"]
    )

    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval(
            """SELECT count(*) FROM jobsvc_job_events e JOIN jobsvc_workflow_steps s ON s.job_id = e.job_id
               WHERE s.workflow_id = $1""",
            uuid.UUID(workflow.id),
        )
    finally:
        await conn.close()
    assert stored == len(events)  # nothing left out

    # After the end: nothing more, at once; beyond it: OUT_OF_RANGE.
    assert await read_all(client, workflow.id, after=len(events)) == []
    assert await read_all(client, workflow.id, after=len(events) - 2) == events[-2:]
    with pytest.raises(grpc.aio.AioRpcError) as beyond:
        await read_all(client, workflow.id, after=len(events) + 1)
    assert beyond.value.code() == grpc.StatusCode.OUT_OF_RANGE


async def test_a_failed_step_and_its_cancelled_dependants_end_the_stream(client: Client) -> None:
    workflow = await client.submit_workflow(
        [workflow_step("a", "fail", {}), workflow_step("b", "echo", {}, depends_on=["a"])], timeout=10
    )
    events = await read_all(client, workflow.id)
    assert [(e[1], e[4]) for e in events if e[4] in TERMINAL] == [("a", "failed"), ("b", "cancelled")]
    assert (await client.get_workflow(workflow.id)).state == WF.WORKFLOW_STATE_FAILED


@pytest.mark.parametrize(
    ("workflow_id", "after", "code"),
    [
        (str(uuid.uuid4()), 0, grpc.StatusCode.NOT_FOUND),
        ("not-a-uuid", 0, grpc.StatusCode.INVALID_ARGUMENT),
        (None, -1, grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_bad_streams(client: Client, workflow_id: str | None, after: int, code: Any) -> None:
    if workflow_id is None:
        workflow_id = (await client.submit_workflow([workflow_step("a", "echo", {})], timeout=10)).id
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await read_all(client, workflow_id, after=after)
    assert refused.value.code() == code
