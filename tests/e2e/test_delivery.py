"""The delivery contract for in-process executors: timeouts, deadlines, non-retryable errors,
the result cache, idempotent Calls, dead letters, redrive and retention."""

from __future__ import annotations

import asyncio

import asyncpg
import grpc
import pytest

from jobsvc.sdk import Client, error_details, job_spec, payload_value
from jobsvc.server import JobsvcServer
from jobsvc.v1 import job_pb2
from tests import handlers
from tests.e2e.test_core import FAILED, SUCCEEDED, kinds, wait_state


async def test_a_hung_attempt_times_out_and_is_retried(client: Client) -> None:
    job = await client.call("hang", None, timeout=15)
    assert job.state == SUCCEEDED and payload_value(job.result) == "attempt 2"
    [first] = job.attempt_errors
    assert first.type == "jobsvc.AttemptTimeout" and first.attempt == 1


async def test_non_retryable_errors_are_dead_lettered_at_once(client: Client) -> None:
    job = await client.call("reject_me", None, timeout=10)
    assert job.state == FAILED and job.attempt == 1 and job.max_attempts == 3
    assert job.error.type == "jobsvc.domain.errors.NonRetryableError" and job.error.non_retryable


async def test_retry_policy_can_be_overridden_per_job(client: Client) -> None:
    spec = job_spec("fail", "x")  # the handler allows 1 attempt
    spec.retry_policy.maximum_attempts = 3
    spec.retry_policy.initial_interval.FromMilliseconds(20)
    job = (
        await client._call.Call(
            __import__("jobsvc.v1.call_service_pb2", fromlist=["x"]).CallRequest(job=spec), timeout=15
        )
    ).job
    assert job.state == FAILED and job.attempt == 3 and len(job.attempt_errors) == 3
    events = [e async for e in client.stream(job.id)]
    assert kinds(events).count("retrying") == 2


async def _register_ghost(database_url: str) -> None:
    """A handler version that was served an hour ago and is not any more."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO jobsvc_handlers (name, version, last_seen_at) "
            "VALUES ('ghost', '1.0.0', now() - interval '1 hour')"
        )
    finally:
        await conn.close()


async def test_execution_and_schedule_to_start_deadlines(client: Client, database_url: str) -> None:
    spec = job_spec("sleepy", {"seconds": 30})
    spec.execution_timeout.FromMilliseconds(500)
    [job] = await client.submit_batch([spec])
    done = await wait_state(client, job.id, FAILED, timeout=15)
    assert done.error.type == "jobsvc.DeadlineExceeded"
    await _register_ghost(database_url)
    nobody = job_spec("ghost", 1)
    nobody.schedule_to_start_timeout.FromMilliseconds(800)
    [queued] = await client.submit_batch([nobody])
    assert (await client.get(queued.id)).waiting_reason == "no executor or worker serves ghost 1.0.0"
    expired = await wait_state(client, queued.id, FAILED, timeout=15)
    assert expired.error.type == "jobsvc.ScheduleToStartTimeout"


async def test_result_cache_answers_identical_input_without_running(client: Client) -> None:
    handlers.CACHED_RUNS.clear()
    first = await client.call("cached_square", 7, timeout=10)
    second = await client.call("cached_square", 7, timeout=10)
    other = await client.call("cached_square", 8, timeout=10)
    assert payload_value(first.result) == payload_value(second.result) == 49 and payload_value(other.result) == 64
    assert handlers.CACHED_RUNS == [7, 8]
    assert second.id != first.id and second.cached_from == first.id and not first.cached_from
    events = [e async for e in client.stream(second.id)]
    assert kinds(events) == ["queued", "succeeded"]


async def test_a_repeated_call_with_a_key_returns_the_stored_result(client: Client) -> None:
    handlers.CACHED_RUNS.clear()
    first = await client.call("steps", {"count": 1}, idempotency_key="order-42", timeout=10)
    again = await client.call("steps", {"count": 1}, idempotency_key="order-42", timeout=10)
    assert again.id == first.id and again.finish_time == first.finish_time
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.call("steps", {"count": 2}, idempotency_key="order-42", timeout=10)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_details(caught.value).metadata["job_id"] == first.id


async def test_redrive_reruns_dead_letters_as_new_jobs(client: Client) -> None:
    dead = [await client.call("fail", i, timeout=10) for i in range(3)]
    assert {j.state for j in dead} == {FAILED}
    one = await client.redrive(dead[0].id)
    assert one.redrive_of == dead[0].id and one.id != dead[0].id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.redrive(dead[0].id)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (await wait_state(client, one.id, FAILED)).error.type == "ValueError"  # dead again
    rest = await client.redrive_all("fail")
    assert len(rest) == 3  # dead[1], dead[2] and the redriven copy of dead[0]
    redriven_from = {(await wait_state(client, job_id, FAILED)).redrive_of for job_id in rest}
    assert redriven_from == {dead[1].id, dead[2].id, one.id}
    assert (await client.get(dead[1].id)).state == FAILED  # the originals stay as they were


async def test_finished_jobs_are_deleted_after_their_retention(server: JobsvcServer, client: Client) -> None:
    job = await client.call("short_lived", 1, timeout=10)
    assert job.state == SUCCEEDED
    for _ in range(100):
        await asyncio.sleep(0.1)
        try:
            await client.get(job.id)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND
            return
    raise AssertionError("the job outlived its retention")


async def test_waiting_reasons(client: Client) -> None:
    later = await client.submit("sleepy", {"seconds": 0}, delay=60)
    assert (await client.get(later.id)).waiting_reason == "scheduled"
    [listed] = (await client.list_jobs(states=[job_pb2.JOB_STATE_QUEUED])).jobs
    assert listed.waiting_reason == "scheduled"
    done = await client.call("echo", 1, timeout=10)
    assert done.waiting_reason == ""
