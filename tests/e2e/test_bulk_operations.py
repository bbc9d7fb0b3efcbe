"""Bulk actions by filter as background operations (OperationService)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest

from jobsvc.sdk import Client, job_spec
from jobsvc.server import JobsvcServer
from jobsvc.v1 import job_pb2
from jobsvc.v1 import operation_service_pb2 as ops
from tests.conftest import subprocess_env
from tests.processes import jobsvc_cli
from tests.readme import readme_block

FAILED, SUCCEEDED, CANCELLED = job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_CANCELLED


async def _until_finished(client: Client, operation_id: str, timeout: float = 15.0) -> ops.Operation:
    deadline = time.monotonic() + timeout
    while True:
        operation = await client.get_operation(operation_id)
        if operation.state != ops.OPERATION_STATE_RUNNING:
            return operation
        assert time.monotonic() < deadline, f"operation still running: {operation}"
        await asyncio.sleep(0.05)


async def _settled(conn: asyncpg.Connection, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while await conn.fetchval("SELECT count(*) FROM jobsvc_jobs WHERE state IN ('queued', 'running')"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_dry_run_then_redrive_by_label(client: Client, database_url: str) -> None:
    specs = [job_spec("fail", i, labels={"tenant": "a" if i % 2 else "b"}) for i in range(30)]
    await client.submit_batch(specs)
    conn = await asyncpg.connect(database_url)
    try:
        await _settled(conn)
        selected = ops.JobFilter(handler="fail", labels={"tenant": "a"})
        dry = await client.bulk(ops.BULK_ACTION_REDRIVE, selected, dry_run=True)
        assert dry.state == ops.OPERATION_STATE_DRY_RUN and dry.matched == 15 and not dry.id
        assert await client.list_operations() == []

        started = await client.bulk(ops.BULK_ACTION_REDRIVE, selected)
        assert started.state == ops.OPERATION_STATE_RUNNING and started.matched == 15
        done = await _until_finished(client, started.id)
        assert done.state == ops.OPERATION_STATE_SUCCEEDED and done.processed == 15
        assert done.filter.labels == {"tenant": "a"} and done.finish_time.seconds > 0
        redriven = await conn.fetch("SELECT labels FROM jobsvc_jobs WHERE redrive_of IS NOT NULL")
        assert len(redriven) == 15 and all(json.loads(r["labels"]) == {"tenant": "a"} for r in redriven)
    finally:
        await conn.close()


async def test_the_rate_limit_spreads_the_work_and_progress_shows(client: Client, database_url: str) -> None:
    await client.submit_batch([job_spec("echo", i) for i in range(40)])
    conn = await asyncpg.connect(database_url)
    try:
        await _settled(conn)
        began = time.monotonic()
        started = await client.bulk(ops.BULK_ACTION_DELETE, ops.JobFilter(states=[SUCCEEDED]), max_jobs_per_second=20)
        seen = set()
        while (operation := await client.get_operation(started.id)).state == ops.OPERATION_STATE_RUNNING:
            seen.add(operation.processed)
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - began
        assert operation.processed == 40 and operation.state == ops.OPERATION_STATE_SUCCEEDED
        assert elapsed >= 1.0, f"40 jobs at 20 per second took {elapsed:.2f}s"
        assert any(0 < n < 40 for n in seen), f"no progress between start and end: {sorted(seen)}"
        assert await conn.fetchval("SELECT count(*) FROM jobsvc_jobs") == 0
        assert await conn.fetchval("SELECT count(*) FROM jobsvc_job_events") == 0
    finally:
        await conn.close()


async def test_progress_streams_until_the_operation_ends(client: Client, database_url: str) -> None:
    await client.submit_batch([job_spec("echo", i) for i in range(40)])
    conn = await asyncpg.connect(database_url)
    try:
        await _settled(conn)
    finally:
        await conn.close()
    started = await client.bulk(ops.BULK_ACTION_DELETE, ops.JobFilter(states=[SUCCEEDED]), max_jobs_per_second=20)
    seen = [op async for op in _bounded(client.watch_operation(started.id), timeout=15)]
    assert seen[0].state == ops.OPERATION_STATE_RUNNING and seen[0].matched == 40
    assert seen[-1].state == ops.OPERATION_STATE_SUCCEEDED and seen[-1].processed == 40
    assert all(op.state == ops.OPERATION_STATE_RUNNING for op in seen[:-1])
    progress = [op.processed for op in seen]
    assert progress == sorted(progress) and any(0 < n < 40 for n in progress), progress
    changes = [(op.state, op.processed) for op in seen]
    assert len(set(changes)) == len(changes), f"an unchanged operation was sent twice: {changes}"
    # A finished operation: one message, then the end.
    assert [op.state async for op in client.watch_operation(started.id)] == [ops.OPERATION_STATE_SUCCEEDED]


async def test_a_watch_ends_when_the_operation_is_cancelled(server: JobsvcServer, client: Client) -> None:
    await client.submit_batch([job_spec("echo", i, delay=60) for i in range(30)])
    slow = await client.bulk(ops.BULK_ACTION_CANCEL, ops.JobFilter(handler="echo"), max_jobs_per_second=3)
    command = [sys.executable, "-m", "jobsvc.cli", "--server", f"127.0.0.1:{server.port}", "operations", "watch"]
    watcher = await asyncio.create_subprocess_exec(
        *command, slow.id, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=subprocess_env()
    )
    try:
        assert watcher.stdout is not None
        first = (await asyncio.wait_for(watcher.stdout.readline(), 15)).decode()
        assert first.startswith("running\t"), first
        await client.cancel_operation(slow.id)
        rest, errors = await asyncio.wait_for(watcher.communicate(), 15)
    finally:
        if watcher.returncode is None:
            watcher.kill()
            await watcher.wait()
    lines = rest.decode().splitlines()
    assert watcher.returncode == 1, errors.decode()
    assert lines[-1].startswith("cancelled\t") and lines[-1].endswith("/30"), lines


async def test_watching_an_unknown_operation(client: Client) -> None:
    for operation_id, code in [
        ("8e6c6a43-7d33-4c1b-9a63-5c1c2b8f0d11", grpc.StatusCode.NOT_FOUND),
        ("nope", grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            [op async for op in client.watch_operation(operation_id)]
        assert caught.value.code() == code


async def _bounded(stream: AsyncIterator[ops.Operation], timeout: float) -> AsyncIterator[ops.Operation]:
    """The stream's items, failing the test if it has not ended within timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            item = await asyncio.wait_for(anext(stream), max(0.0, deadline - time.monotonic()))
        except StopAsyncIteration:
            return
        yield item


async def test_bulk_cancel_and_cancelling_an_operation(client: Client) -> None:
    await client.submit_batch([job_spec("echo", i, delay=60) for i in range(30)])
    slow = await client.bulk(ops.BULK_ACTION_CANCEL, ops.JobFilter(handler="echo"), max_jobs_per_second=5)
    await asyncio.sleep(0.3)
    stopped = await client.cancel_operation(slow.id)
    assert stopped.state == ops.OPERATION_STATE_CANCELLED
    await asyncio.sleep(1.5)  # past the batch in flight and the rate limit's sleep
    after = await client.get_operation(slow.id)
    assert after.state == ops.OPERATION_STATE_CANCELLED and 0 < after.processed < 30
    cancelled = [j for j in (await client.list_jobs(states=[CANCELLED], page_size=100)).jobs]
    assert len(cancelled) == after.processed

    rest = await client.bulk(ops.BULK_ACTION_CANCEL, ops.JobFilter(handler="echo"))
    assert (await _until_finished(client, rest.id)).processed == 30 - after.processed
    assert len((await client.list_jobs(states=[CANCELLED], page_size=100)).jobs) == 30


async def test_an_operation_whose_replica_died_is_taken_over(server: JobsvcServer, database_url: str) -> None:
    async with Client(f"127.0.0.1:{server.port}") as client:
        await client.submit_batch([job_spec("echo", i, delay=60) for i in range(5)])
        conn = await asyncpg.connect(database_url)
        try:
            # As a replica leaves it when it dies mid-way: held by it, its lease run out.
            operation_id = await conn.fetchval(
                "INSERT INTO jobsvc_operations (id, action, filter, matched, max_jobs_per_second, cursor_created_at,"
                " cursor_id, owner, lease_until) VALUES (gen_random_uuid(), 'cancel', '{}', 5, 100, now(),"
                " 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'a dead replica', now() - interval '1 second') RETURNING id"
            )
        finally:
            await conn.close()
        done = await _until_finished(client, str(operation_id))
        assert done.state == ops.OPERATION_STATE_SUCCEEDED and done.processed == 5


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (ops.StartBulkActionRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (
            ops.StartBulkActionRequest(action=ops.BULK_ACTION_DELETE, filter=ops.JobFilter(version="^1")),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            ops.StartBulkActionRequest(action=ops.BULK_ACTION_DELETE, max_jobs_per_second=-1),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ],
)
async def test_bad_bulk_requests(client: Client, request_: ops.StartBulkActionRequest, code: grpc.StatusCode) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.bulk(request_.action, request_.filter, max_jobs_per_second=request_.max_jobs_per_second)
    assert caught.value.code() == code


async def test_an_unknown_operation_is_not_found(client: Client) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.get_operation("8e6c6a43-7d33-4c1b-9a63-5c1c2b8f0d11")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.get_operation("nope")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_cli_bulk_dry_run_start_and_list(server: JobsvcServer, client: Client) -> None:
    await client.submit_batch([job_spec("echo", i, delay=60, labels={"tenant": "t1"}) for i in range(4)])
    address = f"127.0.0.1:{server.port}"
    dry = await asyncio.to_thread(jobsvc_cli, "bulk", "cancel", "--label", "tenant=t1", "--dry-run", server=address)
    assert dry.returncode == 0, dry.stderr
    assert '"state": "OPERATION_STATE_DRY_RUN"' in dry.stdout and '"matched": "4"' in dry.stdout
    started = await asyncio.to_thread(jobsvc_cli, "bulk", "cancel", "--label", "tenant=t1", server=address)
    operation_id = json.loads(started.stdout)["id"]
    await _until_finished(client, operation_id)
    listed = await asyncio.to_thread(jobsvc_cli, "operations", "list", server=address)
    assert f"{operation_id}\tcancel\tsucceeded\t4/4" in listed.stdout


async def test_readme_example(client: Client, database_url: str) -> None:
    await client.submit_batch([job_spec("fail", i, labels={"tenant": "acme"}) for i in range(3)])
    conn = await asyncpg.connect(database_url)
    try:
        await _settled(conn)
    finally:
        await conn.close()
    namespace: dict[str, Any] = {}
    exec(readme_block("bulk-python", "python"), namespace)
    started = await namespace["redrive_tenant"](client, "acme")
    assert started.matched == 3
    done = await asyncio.wait_for(namespace["follow"](client, started.id), 15)
    assert done.state == ops.OPERATION_STATE_SUCCEEDED and done.processed == 3
