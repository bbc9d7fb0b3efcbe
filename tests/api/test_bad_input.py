"""Every RPC answers bad input with the right code and a field-level detail, never UNKNOWN,
and the server stays up."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jobsvc.sdk import Client, error_details, job_spec
from jobsvc.server import SERVICE_NAMES, JobsvcServer
from jobsvc.v1 import (
    call_service_pb2,
    call_service_pb2_grpc,
    job_pb2,
    job_service_pb2,
    job_service_pb2_grpc,
    stream_service_pb2,
    stream_service_pb2_grpc,
    submit_service_pb2,
    submit_service_pb2_grpc,
)

Code = grpc.StatusCode
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def spec(**fields: Any) -> job_pb2.JobSpec:
    return job_spec(**{"handler": "echo", **fields})


# (case name, invalid JobSpec, expected code, expected field or reason)
BAD_SPECS = [
    ("no handler", job_pb2.JobSpec(), Code.INVALID_ARGUMENT, "job.handler"),
    ("bad handler name", spec(handler="Bad Name!"), Code.INVALID_ARGUMENT, "job.handler"),
    ("bad selector", spec(version="^^1"), Code.INVALID_ARGUMENT, "job.version"),
    ("priority", spec(priority=5000), Code.INVALID_ARGUMENT, "job.priority"),
    ("negative delay", spec(delay=-1.0), Code.INVALID_ARGUMENT, "job.delay"),
    ("long key", spec(idempotency_key="k" * 300), Code.INVALID_ARGUMENT, "job.idempotency_key"),
    ("schema", spec(handler="greet", input={"name": ""}), Code.INVALID_ARGUMENT, "job.input.name"),
    (
        "proto to JSON handler",
        job_pb2.JobSpec(handler="echo", input=job_pb2.Payload(proto=any_pb2.Any(type_url="type.googleapis.com/x.Y"))),
        Code.INVALID_ARGUMENT,
        "job.input",
    ),
    ("unknown handler", spec(handler="nope"), Code.NOT_FOUND, "HANDLER_NOT_FOUND"),
    ("unknown version", spec(handler="resize_image", version="^3"), Code.NOT_FOUND, "HANDLER_VERSION_NOT_FOUND"),
]


def check(error: grpc.aio.AioRpcError, code: grpc.StatusCode, field_or_reason: str) -> None:
    details = error_details(error)
    assert error.code() == code, (error.code(), error.details())
    fields = [f for f, _ in details.field_violations]
    assert field_or_reason in fields or details.reason == field_or_reason, (fields, details.reason)
    assert details.message


@pytest.fixture
async def channel(server: JobsvcServer) -> Any:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        yield ch


@pytest.mark.parametrize(("case", "bad", "code", "field"), BAD_SPECS, ids=[c[0] for c in BAD_SPECS])
async def test_submit_call_and_stream_reject_bad_specs(
    channel: Any,
    case: str,
    bad: job_pb2.JobSpec,
    code: grpc.StatusCode,
    field: str,
) -> None:
    submit = submit_service_pb2_grpc.SubmitServiceStub(channel)
    call = call_service_pb2_grpc.CallServiceStub(channel)
    stream = stream_service_pb2_grpc.StreamServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await submit.Submit(submit_service_pb2.SubmitRequest(job=bad), timeout=5)
    check(caught.value, code, field)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.Call(call_service_pb2.CallRequest(job=bad), timeout=5)
    check(caught.value, code, field)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stream.Stream(stream_service_pb2.StreamRequest(submit=bad), timeout=5):
            pass
    check(caught.value, code, field.replace("job.", "submit.", 1))
    batch_field = field.replace("job.", "jobs[1].", 1)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await submit.SubmitBatch(submit_service_pb2.SubmitBatchRequest(jobs=[spec(), bad]), timeout=5)
    check(caught.value, code, batch_field)


async def test_unknown_version_lists_the_versions_that_exist(client: Client) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.submit("resize_image", {}, version=">=3 <4")
    details = error_details(caught.value)
    assert details.metadata["available_versions"] == "2.1.0, 2.0.0, 1.4.0"
    assert "2.1.0, 2.0.0, 1.4.0" in details.message


async def test_batch_limits(channel: Any) -> None:
    submit = submit_service_pb2_grpc.SubmitServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await submit.SubmitBatch(submit_service_pb2.SubmitBatchRequest(), timeout=5)
    check(caught.value, Code.INVALID_ARGUMENT, "jobs")
    too_many = submit_service_pb2.SubmitBatchRequest(jobs=[spec()] * 10_001)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await submit.SubmitBatch(too_many, timeout=10)
    check(caught.value, Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED")


async def test_oversized_request_is_resource_exhausted(channel: Any) -> None:
    big = struct_pb2.Value(string_value="x" * (5 * 1024 * 1024))
    request = submit_service_pb2.SubmitRequest(job=job_pb2.JobSpec(handler="echo", input=job_pb2.Payload(json=big)))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await submit_service_pb2_grpc.SubmitServiceStub(channel).Submit(request, timeout=10)
    assert caught.value.code() == Code.RESOURCE_EXHAUSTED


async def test_job_service_bad_requests(channel: Any, client: Client) -> None:
    jobs = job_service_pb2_grpc.JobServiceStub(channel)
    cases: list[tuple[Any, Any, grpc.StatusCode, str]] = [
        (jobs.GetJob, job_service_pb2.GetJobRequest(), Code.INVALID_ARGUMENT, "id"),
        (jobs.GetJob, job_service_pb2.GetJobRequest(id="not-a-uuid"), Code.INVALID_ARGUMENT, "id"),
        (jobs.GetJob, job_service_pb2.GetJobRequest(id=UNKNOWN_ID), Code.NOT_FOUND, "JOB_NOT_FOUND"),
        (jobs.CancelJob, job_service_pb2.CancelJobRequest(id="x"), Code.INVALID_ARGUMENT, "id"),
        (jobs.CancelJob, job_service_pb2.CancelJobRequest(id=UNKNOWN_ID), Code.NOT_FOUND, "JOB_NOT_FOUND"),
        (jobs.ListJobs, job_service_pb2.ListJobsRequest(page_size=5000), Code.INVALID_ARGUMENT, "page_size"),
        (jobs.ListJobs, job_service_pb2.ListJobsRequest(page_token="garbage"), Code.INVALID_ARGUMENT, "page_token"),
        (jobs.ListJobs, job_service_pb2.ListJobsRequest(states=[99]), Code.INVALID_ARGUMENT, "states[0]"),
    ]
    for method, request, code, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await method(request, timeout=5)
        check(caught.value, code, field)
    done = await client.call("echo", 1, timeout=10)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await jobs.CancelJob(job_service_pb2.CancelJobRequest(id=done.id), timeout=5)
    check(caught.value, Code.FAILED_PRECONDITION, "JOB_ALREADY_FINISHED")
    assert list((await jobs.ListHandlers(job_service_pb2.ListHandlersRequest(name="nope"))).handlers) == []


async def test_stream_bad_requests(channel: Any) -> None:
    stream = stream_service_pb2_grpc.StreamServiceStub(channel)
    cases = [
        (stream_service_pb2.StreamRequest(), Code.INVALID_ARGUMENT, "target"),
        (stream_service_pb2.StreamRequest(job_id="zzz"), Code.INVALID_ARGUMENT, "job_id"),
        (stream_service_pb2.StreamRequest(job_id=UNKNOWN_ID), Code.NOT_FOUND, "JOB_NOT_FOUND"),
        (
            stream_service_pb2.StreamRequest(job_id=UNKNOWN_ID, after_sequence=-1),
            Code.INVALID_ARGUMENT,
            "after_sequence",
        ),
    ]
    for request, code, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in stream.Stream(request, timeout=5):
                pass
        check(caught.value, code, field)


# (case, cron, time zone, the field refused): cron forms beyond the documented five fields.
BAD_TIMINGS = [
    ("seconds field", "30 */5 * * * *", "", "schedule.cron"),
    ("seven fields", "0 0 0 1 1 * 2025", "", "schedule.cron"),
    ("@reboot", "@reboot", "", "schedule.cron"),
    ("CRON_TZ prefix", "CRON_TZ=Europe/Paris 0 3 * * *", "", "schedule.cron"),
    ("? for no value", "0 0 ? * *", "", "schedule.cron"),
    ("nearest weekday", "0 0 15W * *", "", "schedule.cron"),
    ("empty", "", "", "schedule.cron"),
    ("too long", "1," * 200 + "1 * * * *", "", "schedule.cron"),
    ("unknown time zone", "0 3 * * *", "Mars/Olympus_Mons", "schedule.time_zone"),
    ("time zone file that is no zone", "0 3 * * *", "zone.tab", "schedule.time_zone"),
]


async def test_create_schedule_refuses_cron_beyond_the_documented_syntax(client: Client) -> None:
    for case, cron, time_zone, field in BAD_TIMINGS:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.create_schedule("bad-timing", "echo", None, cron=cron, time_zone=time_zone, timeout=5)
        assert caught.value.code() == Code.INVALID_ARGUMENT, (case, caught.value.code(), caught.value.details())
        assert [f for f, _ in error_details(caught.value).field_violations] == [field], case
    assert await client.list_schedules() == []
    # The documented extensions are taken.
    for index, cron in enumerate(["0 0 L * *", "0 0 LW * *", "0 0 * * 5L", "0 0 * * 5#2", "0 9 * JAN-MAR mon-fri"]):
        created = await client.create_schedule(f"ok-{index}", "echo", None, cron=cron, time_zone="Europe/Paris")
        assert created.cron == cron


def _methods() -> list[tuple[str, bool]]:
    """Every (path, server-streaming) of every jobsvc service, from the descriptors."""
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()
    return [
        (f"/{name}/{method.name}", method.server_streaming)
        for name in SERVICE_NAMES
        for method in pool.FindServiceByName(name).methods
    ]


@pytest.mark.parametrize(("path", "streaming"), _methods(), ids=[m[0] for m in _methods()])
async def test_garbage_bytes_never_give_unknown(channel: Any, server: JobsvcServer, path: str, streaming: bool) -> None:
    garbage = b"\xff\xff\xff\xff\x0f\x01"
    identity = dict(request_serializer=None, response_deserializer=None)
    if streaming:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in channel.unary_stream(path, **identity)(garbage, timeout=5):
                pass
    else:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channel.unary_unary(path, **identity)(garbage, timeout=5)
    assert caught.value.code() not in (Code.UNKNOWN, Code.DEADLINE_EXCEEDED), caught.value
    health = health_pb2_grpc.HealthStub(channel)
    status = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert status.status == health_pb2.HealthCheckResponse.SERVING
