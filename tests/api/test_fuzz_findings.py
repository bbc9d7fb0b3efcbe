"""What tests/api/test_fuzz_api.py found, pinned as plain examples: each request below used to
be answered INTERNAL (or poisoned later reads); each is now INVALID_ARGUMENT naming the field.

The last tests cover the same kind of value coming from a handler instead of a request
(found by looking for the fuzzer's NUL bug elsewhere): a result, error or progress
message with U+0000 crashed the attempt's task, so the job hung until its lease ran out."""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from jobsvc import JobContext, handler
from jobsvc.domain.handlers import HandlerDefinition, HandlerTable
from jobsvc.sdk import Client, RemoteWorker, WorkerConfig, error_details, job_spec
from jobsvc.v1 import (
    ack_service_pb2,
    ack_service_pb2_grpc,
    job_pb2,
    stream_service_pb2,
    stream_service_pb2_grpc,
    submit_service_pb2,
    submit_service_pb2_grpc,
)
from tests.conftest import StartServer

TEN_THOUSAND_YEARS = duration_pb2.Duration(seconds=315_576_000_000)


def spec(**fields: Any) -> job_pb2.JobSpec:
    return job_pb2.JobSpec(handler="echo", **fields)


BAD_SPECS = [
    ("NUL in handler", job_pb2.JobSpec(handler="echo\x00"), "job.handler"),
    ("NUL in a label", spec(labels={"k": "v\x00"}), "job.labels['k']"),
    ("NUL in a label key", spec(labels={"k\x00": "v"}), "job.labels['k\\x00']"),
    (
        "NUL in JSON input",
        spec(input=job_pb2.Payload(json=struct_pb2.Value(string_value="a\x00b"))),
        "job.input",
    ),
    (
        "NUL deep in JSON input",
        spec(
            input=job_pb2.Payload(
                json=struct_pb2.Value(
                    list_value=struct_pb2.ListValue(values=[struct_pb2.Value(), struct_pb2.Value(string_value="\x00")])
                )
            )
        ),
        "job.input[1]",
    ),
    ("NaN input", spec(input=job_pb2.Payload(json=struct_pb2.Value(number_value=math.nan))), "job.input"),
    ("Infinity input", spec(input=job_pb2.Payload(json=struct_pb2.Value(number_value=math.inf))), "job.input"),
    (
        "NaN backoff",
        spec(retry_policy=job_pb2.RetryPolicy(backoff_coefficient=math.nan)),
        "job.retry_policy.backoff_coefficient",
    ),
    (
        "Infinite backoff",
        spec(retry_policy=job_pb2.RetryPolicy(backoff_coefficient=math.inf)),
        "job.retry_policy.backoff_coefficient",
    ),
    ("delay of 10,000 years", spec(delay=TEN_THOUSAND_YEARS), "job.delay"),
    ("delay past Duration's range", spec(delay=duration_pb2.Duration(seconds=2**62)), "job.delay"),
    ("nanos of the other sign", spec(delay=duration_pb2.Duration(seconds=1, nanos=-1)), "job.delay"),
    ("run_at past year 9999", spec(run_at=timestamp_pb2.Timestamp(seconds=2**40)), "job.run_at"),
    ("execution timeout of 10,000 years", spec(execution_timeout=TEN_THOUSAND_YEARS), "job.execution_timeout"),
    (
        "schedule-to-start timeout of 10,000 years",
        spec(schedule_to_start_timeout=TEN_THOUSAND_YEARS),
        "job.schedule_to_start_timeout",
    ),
    ("attempt timeout of 10,000 years", spec(attempt_timeout=TEN_THOUSAND_YEARS), "job.attempt_timeout"),
    # int() refuses more than 4,300 digits with a plain ValueError, which was not caught.
    ("a version selector of 5,000 digits", spec(version="9" * 5000), "job.version"),
    (
        "retry interval of 10,000 years",
        spec(retry_policy=job_pb2.RetryPolicy(initial_interval=TEN_THOUSAND_YEARS)),
        "job.retry_policy.initial_interval",
    ),
]


@pytest.mark.parametrize(("case", "bad", "field"), BAD_SPECS, ids=[c[0] for c in BAD_SPECS])
async def test_values_jobsvc_cannot_serve_are_invalid_arguments(
    client: Client, case: str, bad: job_pb2.JobSpec, field: str
) -> None:
    stub = submit_service_pb2_grpc.SubmitServiceStub(client._channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Submit(submit_service_pb2.SubmitRequest(job=bad), timeout=10)
    details = error_details(caught.value)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (case, caught.value.details())
    assert field in [f for f, _ in details.field_violations], (case, details.field_violations)
    # The batch path (one transaction, no group commit) answers the same, with the index.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SubmitBatch(submit_service_pb2.SubmitBatchRequest(jobs=[spec(), bad]), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field.replace("job", "jobs[1]", 1) in [f for f, _ in error_details(caught.value).field_violations]
    # Nothing was stored that later reads would trip over.
    assert (await client.list_jobs(timeout=10)).jobs == []


async def test_a_huge_after_sequence_is_an_invalid_argument(client: Client) -> None:
    job = await client.submit("echo", 1)
    stub = stream_service_pb2_grpc.StreamServiceStub(client._channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.Stream(
            stream_service_pb2.StreamRequest(job_id=job.id, after_sequence=2**63 - 1), timeout=10
        ):
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in error_details(caught.value).field_violations] == ["after_sequence"]


async def test_a_bad_value_on_the_work_stream_is_answered_on_the_stream(client: Client) -> None:
    stub = ack_service_pb2_grpc.AckServiceStub(client._channel)
    hello = ack_service_pb2.WorkRequest(hello=ack_service_pb2.WorkerInfo(worker_id="w\x00"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.Work(iter([hello]), timeout=10):
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in error_details(caught.value).field_violations] == ["hello.worker_id"]


async def test_a_valid_spec_still_goes_through(client: Client) -> None:
    near_limits = job_spec("echo", {"a": [1.5, None, "é🙂"]}, priority=1000, labels={"k": "v"})
    near_limits.delay.FromSeconds(3600)
    assert (await client._submit.Submit(submit_service_pb2.SubmitRequest(job=near_limits), timeout=10)).job.id


@handler("nul_result", "1.0.0")
async def nul_result(ctx: JobContext, value: Any) -> Any:
    return {"text": "a\x00b"}


@handler("nul_error", "1.0.0")
async def nul_error(ctx: JobContext, value: Any) -> Any:
    raise ValueError("bad\x00thing")


@handler("nul_progress", "1.0.0")
async def nul_progress(ctx: JobContext, value: Any) -> Any:
    ctx.progress(math.nan, "half\x00way")
    ctx.partial_output({"k\x00": 1})
    return 1


NUL_HANDLERS: list[HandlerDefinition] = [
    f.__jobsvc_handler__  # type: ignore[attr-defined]
    for f in (nul_result, nul_error, nul_progress)
]


async def _fail_cleanly(client: Client) -> None:
    """Each job ends FAILED at once with a readable error (it used to hang until its lease ran out)."""
    expected = {"nul_result": "U+0000", "nul_error": "bad\ufffdthing", "nul_progress": "U+0000"}
    for name, text in expected.items():
        job = await client.call(name, None, timeout=20)
        assert job.state == job_pb2.JOB_STATE_FAILED, (name, job)
        assert text in job.error.message, (name, job.error)


async def test_nul_from_an_in_process_handler_fails_the_job(start_server: StartServer) -> None:
    server = await start_server(handler_modules=[], handlers=NUL_HANDLERS)
    async with Client(f"127.0.0.1:{server.port}") as client:
        await _fail_cleanly(client)
        progress = [e async for e in client.stream((await client.call("nul_progress", None, timeout=20)).id)]
        assert [e.progress.message for e in progress if e.WhichOneof("kind") == "progress"] == ["half\ufffdway"]


async def test_nul_from_a_remote_worker_handler_fails_the_job(start_server: StartServer) -> None:
    server = await start_server(handler_modules=[])
    target = f"127.0.0.1:{server.port}"
    worker = RemoteWorker(target, HandlerTable(NUL_HANDLERS), config=WorkerConfig(lease_seconds=3.0))
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.connected.wait(), 10)
        async with Client(target) as client:
            await _fail_cleanly(client)
    finally:
        worker.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


async def test_a_retry_delay_past_a_century_is_an_invalid_argument(client: Client) -> None:
    stub = ack_service_pb2_grpc.AckServiceStub(client._channel)
    some_id = "00000000-0000-4000-8000-000000000000"
    nack = ack_service_pb2.NackRequest(job_id=some_id, attempt_token=some_id, retry_delay=TEN_THOUSAND_YEARS)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Nack(nack, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in error_details(caught.value).field_violations] == ["request.retry_delay"]
