"""Remote workers on the AckService: routing, progress, cancellation, fencing, rescue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest

from jobsvc import JobContext, RetryPolicy, handler
from jobsvc.domain.handlers import HandlerDefinition, HandlerTable, load_module
from jobsvc.sdk import Client, RemoteWorker, WorkerConfig, error_details, job_spec, payload_value
from jobsvc.server import JobsvcServer
from jobsvc.v1 import ack_service_pb2, ack_service_pb2_grpc, job_pb2
from tests.conftest import StartServer
from tests.e2e.test_core import SUCCEEDED, kinds, wait_state

StartWorker = Callable[..., Awaitable[RemoteWorker]]


@pytest.fixture
async def api_server(start_server: StartServer) -> JobsvcServer:
    """A replica with no in-process handlers: every job must go to a remote worker."""
    return await start_server(handler_modules=[])


@pytest.fixture
async def start_worker(api_server: JobsvcServer) -> AsyncIterator[StartWorker]:
    workers: list[tuple[RemoteWorker, asyncio.Task[None]]] = []

    async def start(definitions: list[HandlerDefinition] | None = None, **config: Any) -> RemoteWorker:
        module = load_module("tests.handlers")
        table = HandlerTable(definitions if definitions is not None else module.handlers)
        options = {"lease_seconds": 3.0, "shutdown_grace": 1.0, "concurrency": 4, **config}
        worker = RemoteWorker(
            f"127.0.0.1:{api_server.port}",
            table,
            config=WorkerConfig(**options),
            resources={"greeting": "hi from a worker"},
        )
        workers.append((worker, asyncio.create_task(worker.run())))
        await asyncio.wait_for(worker.connected.wait(), 10)
        return worker

    yield start
    for worker, _ in workers:
        worker.stop()
    for _, task in workers:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


@pytest.fixture
async def api_client(api_server: JobsvcServer) -> AsyncIterator[Client]:
    async with Client(f"127.0.0.1:{api_server.port}") as c:
        yield c


async def test_a_call_is_run_by_a_remote_worker_with_the_same_handler_code(
    api_client: Client, start_worker: StartWorker
) -> None:
    await start_worker(worker_id="w1")
    job = await api_client.call("greet", {"name": "remote"}, timeout=15)
    assert job.state == SUCCEEDED and payload_value(job.result) == "hi from a worker, remote"
    events = [e async for e in api_client.stream(submit=job_spec("steps", {"count": 3}))]
    assert kinds(events) == ["queued", "started"] + ["progress", "partial_output"] * 3 + ["succeeded"]
    assert events[1].started.executor.startswith("worker:w1:")
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))


def _resize(version: str) -> HandlerDefinition:
    @handler("resize_image", version)
    async def resize(ctx: JobContext, value: Any) -> str:
        return ctx.version

    definition: HandlerDefinition = resize.__jobsvc_handler__  # type: ignore[attr-defined]
    return definition


async def test_version_routing_reaches_only_workers_that_serve_a_matching_version(
    api_client: Client, start_worker: StartWorker
) -> None:
    await start_worker([_resize("1.9.0")], worker_id="old")
    await asyncio.sleep(0.3)
    await start_worker([_resize("2.1.0")], worker_id="new")
    results = await asyncio.gather(*(api_client.call("resize_image", i, version="^2", timeout=15) for i in range(8)))
    assert {payload_value(j.result) for j in results} == {"2.1.0"}
    assert {j.version for j in results} == {"2.1.0"}
    old = await api_client.call("resize_image", 0, version="~1.9", timeout=15)
    assert payload_value(old.result) == "1.9.0"


async def test_a_version_nobody_serves_waits_visibly(api_client: Client, start_worker: StartWorker) -> None:
    worker = await start_worker([_resize("3.0.0")], worker_id="gone")
    await asyncio.sleep(0.5)  # registered
    worker.stop()
    await asyncio.sleep(0.5)
    job = await api_client.submit("resize_image", 1, version="^3", delay=0.0)
    got = await api_client.get(job.id)
    assert got.state == job_pb2.JOB_STATE_QUEUED
    # Online means "seen within 30 s", so the version still counts as served for a while;
    # a delayed job shows that it is scheduled.
    later = await api_client.submit("resize_image", 1, version="^3", delay=60)
    assert (await api_client.get(later.id)).waiting_reason == "scheduled"


async def test_cancel_reaches_the_worker_running_the_job(api_client: Client, start_worker: StartWorker) -> None:
    await start_worker(worker_id="c")
    job = await api_client.submit("wait_cancel", None)
    await wait_state(api_client, job.id, job_pb2.JOB_STATE_RUNNING)
    await api_client.cancel(job.id, "stop it")
    done = await wait_state(api_client, job.id, job_pb2.JOB_STATE_CANCELLED)
    assert done.state == job_pb2.JOB_STATE_CANCELLED


async def test_failures_retry_then_dead_letter_and_redrive(api_client: Client, start_worker: StartWorker) -> None:
    calls = {"n": 0}

    @handler(
        "flaky", "1.0.0", retry_policy=RetryPolicy(initial_interval=0.05, backoff_coefficient=1, maximum_attempts=3)
    )
    async def flaky(ctx: JobContext, value: Any) -> str:
        calls["n"] += 1
        raise ConnectionError(f"attempt {ctx.attempt}")

    await start_worker([flaky.__jobsvc_handler__], worker_id="f")  # type: ignore[attr-defined]
    job = await api_client.call("flaky", None, timeout=20)
    assert job.state == job_pb2.JOB_STATE_FAILED and job.attempt == 3 and calls["n"] == 3
    assert [e.message for e in job.attempt_errors] == ["attempt 1", "attempt 2", "attempt 3"]
    events = [e async for e in api_client.stream(job.id)]
    assert kinds(events).count("retrying") == 2 and kinds(events)[-1] == "failed"


async def test_stale_attempt_tokens_are_refused(api_server: JobsvcServer, api_client: Client) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{api_server.port}") as channel:
        ack = ack_service_pb2_grpc.AckServiceStub(channel)
        worker = ack_service_pb2.WorkerInfo(
            worker_id="unary", concurrency=1, handlers=[job_pb2.HandlerInfo(name="echo", version="1.0.0")]
        )
        assert not (await ack.Lease(ack_service_pb2.LeaseRequest(worker=worker, max_jobs=1))).assignments
        job = await api_client.submit("echo", "x")
        lease = await ack.Lease(ack_service_pb2.LeaseRequest(worker=worker, max_jobs=1), timeout=10)
        [assignment] = lease.assignments
        assert assignment.job.id == job.id and assignment.lease_deadline.seconds > 0
        bogus = "00000000-0000-4000-8000-000000000000"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ack.Ack(ack_service_pb2.AckRequest(job_id=job.id, attempt_token=bogus), timeout=5)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_details(caught.value).reason == "STALE_ATTEMPT"
        assert (await api_client.get(job.id)).state == job_pb2.JOB_STATE_RUNNING  # changed nothing
        ok = await ack.Ack(
            ack_service_pb2.AckRequest(
                job_id=job.id,
                attempt_token=assignment.attempt_token,
                result=job_pb2.Payload(json=job_pb2.Payload().json),
            ),
            timeout=5,
        )
        assert ok.state == job_pb2.JOB_STATE_SUCCEEDED
        with pytest.raises(grpc.aio.AioRpcError) as caught:  # acked twice: refused
            await ack.Ack(ack_service_pb2.AckRequest(job_id=job.id, attempt_token=assignment.attempt_token), timeout=5)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_dead_workers_job_is_rescued_after_its_lease(
    api_server: JobsvcServer, api_client: Client, start_worker: StartWorker
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{api_server.port}") as channel:
        ack = ack_service_pb2_grpc.AckServiceStub(channel)
        worker = ack_service_pb2.WorkerInfo(
            worker_id="doomed", concurrency=1, handlers=[job_pb2.HandlerInfo(name="echo", version="1.0.0")]
        )
        worker.lease_duration.FromSeconds(2)
        await ack.Lease(ack_service_pb2.LeaseRequest(worker=worker, max_jobs=1), timeout=10)  # registers echo
        job = await api_client.submit("echo", "survives")
        [first] = (await ack.Lease(ack_service_pb2.LeaseRequest(worker=worker, max_jobs=1), timeout=10)).assignments
    # The "worker" is gone without a word; a healthy one takes the job after the lease.
    await start_worker(worker_id="healthy")
    done = await wait_state(api_client, job.id, SUCCEEDED, timeout=20)
    assert done.attempt == 2 and payload_value(done.result) == "survives"
    assert done.attempt_errors[0].type == "jobsvc.LeaseExpired"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{api_server.port}") as channel:
        ack = ack_service_pb2_grpc.AckServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:  # the dead worker's late ack
            await ack.Ack(ack_service_pb2.AckRequest(job_id=job.id, attempt_token=first.attempt_token), timeout=5)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_work_stream_requires_hello(api_server: JobsvcServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{api_server.port}") as channel:
        ack = ack_service_pb2_grpc.AckServiceStub(channel)

        async def requests() -> AsyncIterator[ack_service_pb2.WorkRequest]:
            yield ack_service_pb2.WorkRequest(heartbeat=ack_service_pb2.HeartbeatRequest())

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in ack.Work(requests(), timeout=5):
                pass
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(caught.value).reason == "HELLO_REQUIRED"
