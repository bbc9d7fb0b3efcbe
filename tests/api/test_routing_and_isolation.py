"""Version routing, handler isolation, replicas sharing one database, and drain on stop."""

from __future__ import annotations

import asyncio
import time

import pytest

from jobsvc.app.jobs import AppConfig
from jobsvc.sdk import Client, payload_value
from jobsvc.v1 import job_pb2
from tests.conftest import StartServer
from tests.e2e.test_core import SUCCEEDED, kinds, wait_state


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", "2.1.0"),
        ("^1", "1.4.0"),
        ("1.4.0", "1.4.0"),
        ("^2", "2.1.0"),
        ("~2.0", "2.0.0"),
        (">=1.2 <2", "1.4.0"),
        ("2.0.0 || 1.4.0", "2.0.0"),
        ("<=2.0", "2.0.0"),
    ],
)
async def test_selectors_resolve_to_the_newest_matching_version(client: Client, selector: str, expected: str) -> None:
    job = await client.call("resize_image", {"width": 3, "height": 4}, version=selector, timeout=10)
    assert job.state == SUCCEEDED
    assert job.version == expected and job.version_selector == selector
    assert payload_value(job.result)["version"] == expected


async def test_a_raising_and_a_blocking_handler_do_not_stop_other_jobs(client: Client) -> None:
    blockers = [await client.submit("block", {"seconds": 2.0}) for _ in range(2)]
    failures = [await client.submit("fail", i) for i in range(5)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await asyncio.gather(*(client.call("echo", i, timeout=10) for i in range(20)))
    assert [payload_value(j.result) for j in results] == list(range(20))
    assert loop.time() - started < 2.0, "echo jobs waited for the blocking handlers"
    for job in failures:
        assert (await wait_state(client, job.id, job_pb2.JOB_STATE_FAILED)).error.type == "ValueError"
    for job in blockers:
        await wait_state(client, job.id, SUCCEEDED)


async def test_a_call_on_one_replica_is_answered_when_another_ran_the_job(start_server: StartServer) -> None:
    api_only = await start_server(handler_modules=[])
    worker = await start_server()
    async with Client(f"127.0.0.1:{api_only.port}") as client:
        job = await client.call("greet", {"name": "replica"}, timeout=15)
    assert job.state == SUCCEEDED and payload_value(job.result) == "hello, replica"
    events = [e async for e in Client(f"127.0.0.1:{api_only.port}").stream(job.id)]
    assert events[1].started.executor == worker.config.name != api_only.config.name


async def test_waiters_on_one_replica_hear_at_once_when_another_starts_and_ends_a_job(
    start_server: StartServer,
) -> None:
    """Proves: the claim and the outcome written by one replica wake the Stream and the
    Call waiting on another through NOTIFY (sent by those statements themselves): the
    waiting replica's re-read poll is a minute away, and both answer within seconds."""
    api_only = await start_server(handler_modules=[], app=AppConfig(wait_poll_interval=60.0))
    await start_server()
    async with Client(f"127.0.0.1:{api_only.port}") as client:
        job = await client.submit("sleepy", {"seconds": 3.0})
        arrived: dict[str, float] = {}
        async with asyncio.timeout(20):
            async for event in client.stream(job.id):
                arrived[str(event.WhichOneof("kind"))] = time.monotonic()
        assert list(arrived) == ["queued", "started", "succeeded"]
        # Heard when the job started, not with its end (or the poll): the claim notified.
        assert arrived["succeeded"] - arrived["started"] > 1.5
        for value in range(3):
            called = await client.call("greet", {"name": f"r{value}"}, timeout=10)
            assert payload_value(called.result) == f"hello, r{value}"


async def test_stop_requeues_unfinished_jobs_for_another_replica(start_server: StartServer) -> None:
    first = await start_server()
    async with Client(f"127.0.0.1:{first.port}") as client:
        job = await client.submit("sleepy", {"seconds": 1.5})
        await wait_state(client, job.id, job_pb2.JOB_STATE_RUNNING)
        await first.stop(grace=0.2)
    second = await start_server()
    async with Client(f"127.0.0.1:{second.port}") as client:
        done = await wait_state(client, job.id, SUCCEEDED, timeout=15)
        events = [e async for e in client.stream(job.id)]
    # A requeue on shutdown is not the job's fault, so it does not use up an attempt.
    assert payload_value(done.result) == {"attempt": 1}
    assert kinds(events) == ["queued", "started", "requeued", "started", "succeeded"]
    assert events[2].requeued.reason == "executor shutting down"
    assert events[1].started.executor != events[3].started.executor


async def test_stop_lets_short_jobs_finish_within_the_grace_period(start_server: StartServer) -> None:
    server = await start_server()
    async with Client(f"127.0.0.1:{server.port}") as client:
        job = await client.submit("sleepy", {"seconds": 0.5})
        await wait_state(client, job.id, job_pb2.JOB_STATE_RUNNING)
        await server.stop(grace=5)
    other = await start_server(handler_modules=[])
    async with Client(f"127.0.0.1:{other.port}") as client:
        done = await client.get(job.id)
    assert done.state == SUCCEEDED and done.attempt == 1
