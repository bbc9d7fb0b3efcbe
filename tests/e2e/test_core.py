"""Submit, Call, Stream, Get, List and Cancel against a real server and PostgreSQL."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from jobsvc.sdk import Client, error_details, job_spec, payload_value
from jobsvc.server import JobsvcServer
from jobsvc.v1 import job_pb2, stream_service_pb2, stream_service_pb2_grpc

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


# -- streams opened on finished jobs (issue 11) -----------------------------------------

STREAM_BOUND = 5.0  # seconds: a stream that should end at once and has not by then hangs


async def _stream_events(
    channel: grpc.aio.Channel, request: stream_service_pb2.StreamRequest
) -> list[job_pb2.JobEvent]:
    """Every event of one Stream call, under a deadline so that a hang fails the test."""
    stub = stream_service_pb2_grpc.StreamServiceStub(channel)
    return [response.event async for response in stub.Stream(request, timeout=STREAM_BOUND)]


async def _finished_job(client: Client, state: str) -> job_pb2.Job:
    if state == "succeeded":
        return await client.call("echo", 1, timeout=10)
    if state == "failed":
        return await client.call("fail", 1, timeout=10)
    return await client.cancel((await client.submit("echo", 1, delay=60)).id)


@pytest.mark.parametrize("state", ["succeeded", "failed", "cancelled"])
async def test_a_stream_on_a_finished_job_sends_the_rest_and_ends(
    server: JobsvcServer, client: Client, state: str
) -> None:
    job = await _finished_job(client, state)
    last = job.last_sequence
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        everything = await _stream_events(channel, stream_service_pb2.StreamRequest(job_id=job.id))
        assert [e.sequence for e in everything] == list(range(1, last + 1))
        assert kinds(everything)[-1] == state
        # From the middle, and from the last event: the rest (nothing), then OK at once.
        for after in range(1, last + 1):
            rest = await _stream_events(channel, stream_service_pb2.StreamRequest(job_id=job.id, after_sequence=after))
            assert rest == everything[after:], after


async def test_a_stream_after_the_last_event_of_a_finished_job_ends_at_once(
    server: JobsvcServer, client: Client
) -> None:
    """The case the outside client reported: Stream{job_id, after_sequence: the last} hung."""
    job = await client.call("steps", {"count": 2}, timeout=10)
    assert job.state == SUCCEEDED and job.last_sequence == 7
    loop = asyncio.get_running_loop()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        started = loop.time()
        request = stream_service_pb2.StreamRequest(job_id=job.id, after_sequence=job.last_sequence)
        assert await _stream_events(channel, request) == []
        assert loop.time() - started < STREAM_BOUND / 2
        # Resuming a submit-and-stream by its idempotency key ends the same way.
        keyed = job_spec("echo", 2, idempotency_key="resume-after-the-end")
        first = await _stream_events(channel, stream_service_pb2.StreamRequest(submit=keyed))
        assert kinds(first)[-1] == "succeeded"
        again = stream_service_pb2.StreamRequest(submit=keyed, after_sequence=first[-1].sequence)
        assert await _stream_events(channel, again) == []


@pytest.mark.parametrize("state", ["succeeded", "cancelled", "running"])
async def test_a_stream_after_a_sequence_the_job_never_reached_is_out_of_range(
    server: JobsvcServer, client: Client, state: str
) -> None:
    if state == "running":
        job = await client.submit("wait_cancel", None)
        job = await wait_state(client, job.id, job_pb2.JOB_STATE_RUNNING)
    else:
        job = await _finished_job(client, state)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        for beyond in (job.last_sequence + 1, 2**31 - 1):
            request = stream_service_pb2.StreamRequest(job_id=job.id, after_sequence=beyond)
            stub = stream_service_pb2_grpc.StreamServiceStub(channel)
            call = stub.Stream(request, timeout=STREAM_BOUND)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                [r async for r in call]
            assert caught.value.code() == grpc.StatusCode.OUT_OF_RANGE, caught.value.details()
            details = error_details(caught.value)
            assert details.reason == "SEQUENCE_NOT_REACHED"
            assert details.metadata["last_sequence"] == str(job.last_sequence)
            assert details.metadata["after_sequence"] == str(beyond)
            # The job id still went out first, as for every Stream.
            assert dict(await call.initial_metadata())["jobsvc-job-id"] == job.id
    if state == "running":
        await client.cancel(job.id)


async def test_a_stream_waiting_at_the_last_event_gets_the_terminal_one(server: JobsvcServer, client: Client) -> None:
    job = await client.submit("wait_cancel", None)
    job = await wait_state(client, job.id, job_pb2.JOB_STATE_RUNNING)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        request = stream_service_pb2.StreamRequest(job_id=job.id, after_sequence=job.last_sequence)
        watching = asyncio.create_task(_stream_events(channel, request))
        await asyncio.sleep(0.3)  # the stream is open and waiting
        assert not watching.done()
        await client.cancel(job.id, "enough")
        events = await watching
    assert kinds(events) == ["cancelled"] and events[0].sequence == job.last_sequence + 1


async def test_streams_opened_while_the_job_finishes_each_end_with_the_rest(
    server: JobsvcServer, client: Client
) -> None:
    """The race between reading a job's events and its state: streams opened just before,
    during and just after a cancel each get exactly the events after their sequence.
    Several rounds, since a stream hits the window only when its read straddles the commit."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:

        async def watch(job_id: str, after: int, delay: float) -> list[tuple[int, str]]:
            await asyncio.sleep(delay)
            request = stream_service_pb2.StreamRequest(job_id=job_id, after_sequence=after)
            return [(e.sequence, str(e.WhichOneof("kind"))) for e in await _stream_events(channel, request)]

        async def cancel(job_id: str) -> None:
            await asyncio.sleep(0.04)
            await client.cancel(job_id)

        for _ in range(5):
            job = await client.submit("echo", 1, delay=60)
            assert job.last_sequence == 1  # queued
            watchers = [watch(job.id, index % 2, index * 0.002) for index in range(50)]
            *seen, _ = await asyncio.gather(*watchers, cancel(job.id))
            for index, events in enumerate(seen):
                assert events == [(1, "queued"), (2, "cancelled")][index % 2 :], (index, events)


# -- cancelling finished jobs, and cancelling twice (issue 11) --------------------------


async def _all_events(client: Client, job_id: str) -> list[job_pb2.JobEvent]:
    """A finished job's whole log, bounded."""

    async def collect() -> list[job_pb2.JobEvent]:
        return [e async for e in client.stream(job_id)]

    return await asyncio.wait_for(collect(), STREAM_BOUND)


async def _job_in_state(client: Client, state: str) -> job_pb2.Job:
    if state == "cancelled while running":
        job = await client.submit("wait_cancel", None)
        await wait_state(client, job.id, job_pb2.JOB_STATE_RUNNING)
        await client.cancel(job.id, "the first reason")
        return await wait_state(client, job.id, CANCELLED)
    if state == "cancelled while queued":
        job = await client.submit("echo", 1, delay=60)
        return await client.cancel(job.id, "the first reason")
    return await _finished_job(client, state)


@pytest.mark.parametrize("state", ["succeeded", "failed", "cancelled while queued", "cancelled while running"])
async def test_cancelling_a_finished_job_answers_by_how_it_ended(client: Client, state: str) -> None:
    job = await _job_in_state(client, state)
    if state in ("succeeded", "failed"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.cancel(job.id, "too late", timeout=5)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        details = error_details(caught.value)
        assert details.reason == "JOB_ALREADY_FINISHED" and details.metadata["state"] == state
    else:
        again = await client.cancel(job.id, "a second reason", timeout=5)
        assert again.state == CANCELLED and again.last_sequence == job.last_sequence  # nothing changed
    events = await _all_events(client, job.id)
    assert kinds(events)[-1] == state.partition(" ")[0] and len(events) == job.last_sequence
    if state.startswith("cancelled"):
        assert events[-1].cancelled.reason == "the first reason"


@pytest.mark.parametrize("state", ["queued", "running"])
async def test_a_job_cancelled_twice_at_once_ends_cancelled_once(client: Client, state: str) -> None:
    if state == "queued":
        job = await client.submit("echo", 1, delay=60)
    else:
        job = await client.submit("wait_cancel", None)
        await wait_state(client, job.id, job_pb2.JOB_STATE_RUNNING)
    answers = await asyncio.gather(*(client.cancel(job.id, f"operator {i}", timeout=5) for i in range(2)))
    assert all(a.id == job.id for a in answers)
    if state == "queued":
        assert [a.state for a in answers] == [CANCELLED, CANCELLED]
    else:
        assert all(a.state == CANCELLED or a.cancel_requested for a in answers)
    events = await _all_events(client, job.id)
    assert kinds(events).count("cancelled") == 1 and kinds(events)[-1] == "cancelled"
    assert events[-1].cancelled.reason in ("operator 0", "operator 1")
    assert (await client.get(job.id)).state == CANCELLED
