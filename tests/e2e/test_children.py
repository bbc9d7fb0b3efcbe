"""Child jobs and durable sleep against real servers and PostgreSQL: a parent spawns,
parks without its slot, resumes with its children's results (on another replica after
its own stopped), sleeps across a restart, sees a child's failure; a cancel of a parked
parent cancels its children; a spawn of an unknown handler fails the parent."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.executor import ExecutorConfig
from jobsvc.sdk import Client, RemoteWorker, WorkerConfig, payload_value
from jobsvc.v1 import job_pb2
from tests.conftest import REPO, StartServer

SUCCEEDED, FAILED, CANCELLED = job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_CANCELLED
WAITING, QUEUED = job_pb2.JOB_STATE_WAITING, job_pb2.JOB_STATE_QUEUED
MODULES = ["tests.child_handlers"]
# One slot: a parent that held it while waiting would leave its children nowhere to run.
ONE_SLOT = ExecutorConfig(concurrency=1, poll_interval=1.0, lease_seconds=6.0)
README = (REPO / "README.md").read_text()


def readme_block(marker: str) -> str:
    """The python block of README.md marked <!-- marker -->."""
    match = re.search(rf"<!-- {marker} -->\n```python\n(.*?)```", README, re.DOTALL)
    assert match, f"README.md has no code block marked {marker}"
    return match[1]


async def poll_job(
    client: Client, job_id: str, done: Callable[[job_pb2.Job], bool], timeout: float = 15
) -> job_pb2.Job:
    """GetJob until `done` holds (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        job = await client.get(job_id)
        if done(job):
            return job
        assert loop.time() < deadline, f"job {job_id} never got there: {job}"
        await asyncio.sleep(0.05)


def finished(job: job_pb2.Job) -> bool:
    """A terminal state."""
    return job.state in (SUCCEEDED, FAILED, CANCELLED)


async def children_of(client: Client, parent_id: str) -> list[job_pb2.Job]:
    """The children fan_out spawned (each carries its parent's id as a label)."""
    return list((await client.list_jobs(labels={"parent": parent_id}, page_size=100)).jobs)


async def test_a_parent_waits_for_its_children_without_its_slot_and_gets_their_results(
    start_server: StartServer,
) -> None:
    server = await start_server(handler_modules=MODULES, executor=ONE_SLOT)
    async with Client(f"127.0.0.1:{server.port}") as client:
        parent = await client.submit("fan_out", {"xs": [1, 2, 3], "hold": 0.3})
        parked = await poll_job(client, parent.id, lambda j: j.state == WAITING)
        assert parked.wait_reason == job_pb2.WAIT_REASON_CHILDREN
        assert parked.waiting_reason == "waiting for its child jobs to finish"
        listed = await client.list_jobs(states=[WAITING], handler="fan_out")
        assert [j.id for j in listed.jobs] == [parent.id]

        done = await poll_job(client, parent.id, finished)
        assert done.state == SUCCEEDED, done.error
        assert payload_value(done.result) == {"squares": [1, 4, 9]}
        # Parking is not a failed attempt: the resumed run is attempt 1 again.
        assert done.attempt == 1
        kids = await children_of(client, parent.id)
        assert len(kids) == 3 and all(k.state == SUCCEEDED for k in kids)


async def test_a_parked_parent_resumes_on_another_replica_after_its_own_stopped(start_server: StartServer) -> None:
    first = await start_server(handler_modules=MODULES, name="first")
    async with Client(f"127.0.0.1:{first.port}") as client:
        parent = await client.submit("fan_out", {"xs": [2, 5], "hold": 1.0})
        await poll_job(client, parent.id, lambda j: j.state == WAITING)
    # The children are running on `first`: its shutdown gives them back to the queue.
    await first.stop(0.1)
    second = await start_server(handler_modules=MODULES, name="second")
    async with Client(f"127.0.0.1:{second.port}") as client:
        done = await poll_job(client, parent.id, finished)
        assert done.state == SUCCEEDED, done.error
        assert payload_value(done.result) == {"squares": [4, 25]}
        starts = [e.started.executor async for e in client.stream(parent.id) if e.WhichOneof("kind") == "started"]
        assert starts == ["first", "second"]


async def test_a_durable_sleep_survives_a_restart_without_a_slot(start_server: StartServer) -> None:
    first = await start_server(handler_modules=MODULES, executor=ONE_SLOT, name="first")
    async with Client(f"127.0.0.1:{first.port}") as client:
        parent = await client.submit("nap", {"seconds": 1.5})
        sleeping = await poll_job(client, parent.id, lambda j: j.wait_reason == job_pb2.WAIT_REASON_SLEEPING)
        assert sleeping.state == QUEUED and sleeping.waiting_reason.startswith("sleeping until ")
        # The one slot is free while it sleeps: another job runs meanwhile.
        other = await client.call("child_square", {"x": 7}, timeout=5)
        assert payload_value(other.result) == 49
    await first.stop(0.1)
    second = await start_server(handler_modules=MODULES, executor=ONE_SLOT, name="second")
    async with Client(f"127.0.0.1:{second.port}") as client:
        done = await poll_job(client, parent.id, finished)
        assert done.state == SUCCEEDED, done.error
        assert payload_value(done.result) == {"square": 9}
        slept = (done.finish_time.ToDatetime() - done.create_time.ToDatetime()).total_seconds()
        assert slept >= 1.5


async def test_a_failed_child_fails_the_wait_with_its_error(start_server: StartServer) -> None:
    server = await start_server(handler_modules=MODULES)
    async with Client(f"127.0.0.1:{server.port}") as client:
        done = await client.call("fan_out", {"xs": [1, 2, 3], "fail": 2}, timeout=15)
        assert done.state == FAILED
        assert done.error.type == "jobsvc.ChildJobFailed"
        assert "no square for 2" in done.error.message and "failed" in done.error.message


async def test_cancelling_a_waiting_parent_cancels_its_children(start_server: StartServer) -> None:
    server = await start_server(handler_modules=MODULES)
    async with Client(f"127.0.0.1:{server.port}") as client:
        parent = await client.submit("fan_out", {"xs": [1, 2], "hold": 30})
        await poll_job(client, parent.id, lambda j: j.state == WAITING)
        cancelled = await client.cancel(parent.id, "enough")
        assert cancelled.state == CANCELLED
        kids = await children_of(client, parent.id)
        assert len(kids) == 2
        for kid in kids:
            ended = await poll_job(client, kid.id, finished, timeout=10)
            assert ended.state == CANCELLED


async def test_a_spawn_of_an_unknown_handler_fails_the_parent_at_once(start_server: StartServer) -> None:
    server = await start_server(handler_modules=MODULES)
    async with Client(f"127.0.0.1:{server.port}") as client:
        done = await client.call("spawn_unknown", {}, timeout=10)
        assert done.state == FAILED and done.attempt == 1
        assert done.error.type == "jobsvc.SpawnRefused"
        assert "no handler named 'no_such_handler'" in done.error.message
        assert done.error.non_retryable


async def test_a_remote_worker_spawns_waits_and_sleeps_over_its_work_stream(start_server: StartServer) -> None:
    # Nothing runs in-process: a worker with one slot runs parents and children alike.
    server = await start_server(handler_modules=[])
    worker = RemoteWorker(
        f"127.0.0.1:{server.port}",
        HandlerTable(load_module("tests.child_handlers").handlers),
        config=WorkerConfig(worker_id="remote", lease_seconds=3.0, shutdown_grace=1.0, concurrency=1),
    )
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.connected.wait(), 10)
        async with Client(f"127.0.0.1:{server.port}") as client:
            parent = await client.submit("fan_out", {"xs": [1, 2, 3], "hold": 0.2})
            parked = await poll_job(client, parent.id, lambda j: j.state == WAITING)
            assert parked.wait_reason == job_pb2.WAIT_REASON_CHILDREN
            done = await poll_job(client, parent.id, finished)
            assert done.state == SUCCEEDED, done.error
            assert payload_value(done.result) == {"squares": [1, 4, 9]}

            napper = await client.submit("nap", {"seconds": 0.5})
            await poll_job(client, napper.id, lambda j: j.wait_reason == job_pb2.WAIT_REASON_SLEEPING)
            napped = await poll_job(client, napper.id, finished)
            assert napped.state == SUCCEEDED and payload_value(napped.result) == {"square": 9}

            failed = await client.call("fan_out", {"xs": [4, 6], "fail": 6}, timeout=10)
            assert failed.state == FAILED and failed.error.type == "jobsvc.ChildJobFailed"
            assert "no square for 6" in failed.error.message

            refused = await client.call("spawn_unknown", {}, timeout=10)
            assert refused.state == FAILED and refused.error.type == "jobsvc.SpawnRefused"
            assert "no handler named 'no_such_handler'" in refused.error.message
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)


async def test_the_readme_example_runs_as_written(start_server: StartServer) -> None:
    handler_code = readme_block("children-handler-example").split("\n\n\n", 1)[1]  # after its imports
    assert handler_code.strip() in (REPO / "tests" / "child_handlers.py").read_text()
    server = await start_server(handler_modules=MODULES)
    namespace: dict[str, Any] = {}
    exec(compile(readme_block("children-example"), "README.md", "exec"), namespace)
    async with Client(f"127.0.0.1:{server.port}") as client:
        await namespace["main"](client)
