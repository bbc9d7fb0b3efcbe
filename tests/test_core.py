"""Submit, Call, Stream, Get, List and Cancel against a real server and PostgreSQL."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from jobsvc.client import Client, error_details, job_spec, payload_value
from jobsvc.v1 import job_pb2

SUCCEEDED, FAILED, CANCELLED = job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_CANCELLED


async def wait_state(client: Client, job_id: str, state: int, timeout: float = 10) -> job_pb2.Job:
    """Poll Get until the job reaches `state` (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        job = await client.get(job_id)
        if job.state == state:
            return job
        assert loop.time() < deadline, f"job stayed {job_pb2.JobState.Name(job.state)}"
        await asyncio.sleep(0.05)


async def test_submit_then_get_shows_the_result(client: Client) -> None:
    job = await client.submit("echo", {"a": [1, 2, 3]})
    assert job.id and job.state == job_pb2.JOB_STATE_QUEUED and job.version == "1.0.0"
    done = await wait_state(client, job.id, SUCCEEDED)
    assert payload_value(done.result) == {"a": [1, 2, 3]}
    assert done.attempt == 1 and done.finish_time.seconds > 0


async def test_call_returns_the_result(client: Client) -> None:
    job = await client.call("greet", {"name": "Ada"}, timeout=10)
    assert job.state == SUCCEEDED
    assert payload_value(job.result) == "hello, Ada"


async def test_a_failing_job_is_a_result_not_a_failed_rpc(client: Client) -> None:
    job = await client.call("fail", 42, timeout=10)
    assert job.state == FAILED
    assert job.error.type == "ValueError"
    assert job.error.message == "bad value: 42"
    assert "raise ValueError" in job.error.traceback


async def test_call_deadline_leaves_the_job_running(client: Client) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.call("block", {"seconds": 1.0}, timeout=0.3)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    [job] = (await client.list_jobs(handler="block")).jobs
    done = await wait_state(client, job.id, SUCCEEDED)
    assert payload_value(done.result) == "unblocked"


async def test_submit_batch_is_one_transaction(client: Client) -> None:
    specs = [job_spec("echo", i) for i in range(50)]
    jobs = await client.submit_batch(specs)
    assert len(jobs) == 50 and len({j.id for j in jobs}) == 50
    results = [payload_value((await wait_state(client, j.id, SUCCEEDED)).result) for j in jobs]
    assert results == list(range(50))
    bad = [job_spec("echo", 1), job_spec("greet", {"name": 5})]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.submit_batch(bad)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value).field_violations[0][0] == "jobs[1].input.name"
    assert len((await client.list_jobs(handler="echo", page_size=1000)).jobs) == 50  # nothing of the bad batch


def kinds(events: list[job_pb2.JobEvent]) -> list[str]:
    return [str(e.WhichOneof("kind")) for e in events]


async def test_stream_sees_every_event_in_order(client: Client) -> None:
    events = [e async for e in client.stream(submit=job_spec("steps", {"count": 3}))]
    assert kinds(events) == ["queued", "started"] + ["progress", "partial_output"] * 3 + ["succeeded"]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert [e.progress.percent for e in events if e.HasField("progress")] == pytest.approx([100 / 3, 200 / 3, 100])
    assert payload_value(events[-1].succeeded.result) == {"steps": 3}


async def test_stream_resumes_after_a_sequence_without_gap_or_duplicate(client: Client) -> None:
    job = await client.submit("steps", {"count": 4, "pause": 0.05})
    first: list[job_pb2.JobEvent] = []
    async for event in client.stream(job.id):
        first.append(event)
        if len(first) == 4:
            break  # the "connection" drops here
    rest = [e async for e in client.stream(job.id, after_sequence=first[-1].sequence)]
    seqs = [e.sequence for e in first + rest]
    assert seqs == list(range(1, len(seqs) + 1))
    assert kinds(first + rest)[-1] == "succeeded"


async def test_two_watchers_see_the_same_events(client: Client) -> None:
    job = await client.submit("steps", {"count": 5, "pause": 0.02}, delay=0.3)

    async def watch() -> list[tuple[int, str]]:
        return [(e.sequence, str(e.WhichOneof("kind"))) async for e in client.stream(job.id)]

    a, b = await asyncio.gather(watch(), watch())
    assert a == b and a[-1][1] == "succeeded" and len(a) == 2 + 2 * 5 + 1


async def test_generators_stream_partial_output(client: Client) -> None:
    events = [e async for e in client.stream(submit=job_spec("chunks", {"count": 3}))]
    partials = [payload_value(e.partial_output.output) for e in events if e.HasField("partial_output")]
    assert partials == ["chunk-0", "chunk-1", "chunk-2"]
    assert payload_value(events[-1].succeeded.result) == partials
    job = await client.call("sync_chunks", {"count": 4}, timeout=10)
    assert payload_value(job.result) == [0, 1, 2, 3]


async def test_cancel_queued_and_running_jobs(client: Client) -> None:
    later = await client.submit("echo", 1, delay=60)
    cancelled = await client.cancel(later.id, "changed my mind")
    assert cancelled.state == CANCELLED
    running = await client.submit("wait_cancel", None)
    await wait_state(client, running.id, job_pb2.JOB_STATE_RUNNING)
    await client.cancel(running.id)
    events = [e async for e in client.stream(running.id)]
    assert kinds(events)[-1] == "cancelled"
    assert (await client.get(running.id)).state == CANCELLED
    done = await client.call("echo", 2, timeout=10)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.cancel(done.id)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(caught.value).reason == "JOB_ALREADY_FINISHED"


async def test_list_filters_and_paginates(client: Client) -> None:
    jobs = await client.submit_batch([job_spec("echo", i, delay=60) for i in range(7)])
    await client.submit("greet", {"name": "x"}, delay=60)
    seen: list[str] = []
    token = ""
    for _ in range(10):
        page = await client.list_jobs(handler="echo", page_size=3, page_token=token)
        seen += [j.id for j in page.jobs]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(j.id for j in jobs) and len(seen) == 7
    queued = await client.list_jobs(states=[job_pb2.JOB_STATE_QUEUED], page_size=100)
    assert len(queued.jobs) == 8


async def test_handlers_are_listed_with_versions_and_schemas(client: Client) -> None:
    handlers = await client.handlers("resize_image")
    assert [h.version for h in handlers] == ["2.1.0", "2.0.0", "1.4.0"]
    [greet] = await client.handlers("greet")
    assert greet.input_schema["required"] == ["name"] and greet.online
