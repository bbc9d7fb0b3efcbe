"""Pause and resume a handler or one version (PauseService, the CLI, the SDK)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime
from typing import Any

import asyncpg
import grpc
import pytest

from jobsvc.api.auth import AuthConfig, token_digest
from jobsvc.domain.handlers import HANDLER_ATTRIBUTE, HandlerTable, load_module
from jobsvc.domain.schedules import WhilePaused
from jobsvc.sdk import Client, RemoteWorker, WorkerConfig, job_spec
from jobsvc.server import JobsvcServer
from jobsvc.v1 import job_pb2, schedule_service_pb2
from tests.conftest import StartServer
from tests.processes import jobsvc_cli
from tests.readme import readme_block

SUCCEEDED = job_pb2.JOB_STATE_SUCCEEDED


async def _count(conn: asyncpg.Connection, handler: str, state: str) -> int:
    found: int = await conn.fetchval(
        "SELECT count(*) FROM jobsvc_jobs WHERE handler = $1 AND state = $2", handler, state
    )
    return found


async def _until(condition_met: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition_met():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_pause_under_load_on_two_replicas_and_a_remote_worker(
    start_server: StartServer, database_url: str
) -> None:
    """No job of the paused handler starts after PauseHandler returns, on either replica
    or the remote worker (claims and a Call's start-at-once path alike); other handlers
    carry on; resume drains the queue at once."""
    a, b = await start_server(), await start_server()
    gateway = await start_server(handler_modules=[])  # its jobs go to the remote worker
    worker = RemoteWorker(
        f"127.0.0.1:{gateway.port}",
        HandlerTable(load_module("tests.handlers").handlers),
        config=WorkerConfig(concurrency=4, lease_seconds=3.0, shutdown_grace=1.0),
    )
    worker_task = asyncio.create_task(worker.run())
    conn = await asyncpg.connect(database_url)
    async with Client(f"127.0.0.1:{a.port}") as client_a, Client(f"127.0.0.1:{b.port}") as client_b:
        try:
            await asyncio.wait_for(worker.connected.wait(), 10)
            load = [job_spec("sleepy", {"seconds": 0.05}) for _ in range(400)]
            await client_a.submit_batch(load)
            await _until(lambda: _started_some(conn))
            await client_a.pause("sleepy", reason="load test")
            paused_at: datetime = await conn.fetchval("SELECT clock_timestamp()")
            # New jobs are accepted and queue, through either replica.
            late = await client_b.submit("sleepy", {"seconds": 0.01})
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await client_b.call("sleepy", {"seconds": 0.01}, timeout=0.5)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            # Other handlers run as ever.
            assert (await client_b.call("echo", 1, timeout=5)).state == SUCCEEDED
            await asyncio.sleep(1.5)  # more than a refresh interval and a poll interval
            started_after = await conn.fetchval(
                "SELECT count(*) FROM jobsvc_jobs WHERE handler = 'sleepy' AND started_at > $1", paused_at
            )
            assert started_after == 0, f"{started_after} jobs of a paused handler started after the pause"
            queued = await _count(conn, "sleepy", "queued")
            assert queued > 0 and await _count(conn, "sleepy", "running") == 0, "running jobs did not finish"
            assert [p.handler for p in await client_b.list_pauses()] == ["sleepy"]

            assert await client_b.resume("sleepy") is True
            resumed = time.monotonic()
            await _until(lambda: _first_started_after(conn, paused_at), timeout=2.0)
            assert time.monotonic() - resumed < 1.0, "resume did not start the queued jobs at once"
            await _until(lambda: _all_done(conn))
            assert (await client_a.get(late.id)).state == SUCCEEDED
            assert await client_a.list_pauses() == []
            executors = await conn.fetchval(
                "SELECT count(DISTINCT data ->> 'executor') FROM jobsvc_job_events WHERE kind = 'started'"
            )
            assert executors == 3, "the load did not reach both replicas and the worker"
        finally:
            worker.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker_task, 10)
            await conn.close()


async def _started_some(conn: asyncpg.Connection) -> bool:
    return bool(await _count(conn, "sleepy", "succeeded") >= 10)


async def _first_started_after(conn: asyncpg.Connection, moment: datetime) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM jobsvc_jobs WHERE started_at > $1", moment))


async def _all_done(conn: asyncpg.Connection) -> bool:
    return await conn.fetchval("SELECT count(*) FROM jobsvc_jobs WHERE state <> 'succeeded'") == 0


async def test_pausing_one_version_leaves_the_others_running(client: Client, database_url: str) -> None:
    await client.pause("resize_image", "1.4.0")
    old = await client.submit("resize_image", {"width": 4}, version="1.4.0")
    new = await client.call("resize_image", {"width": 4, "height": 3}, version="2.0.0", timeout=5)
    assert new.state == SUCCEEDED
    await asyncio.sleep(0.3)
    waiting = await client.get(old.id)
    assert waiting.state == job_pb2.JOB_STATE_QUEUED and waiting.wait_reason == job_pb2.WAIT_REASON_PAUSED
    assert [j.wait_reason for j in (await client.list_jobs(handler="resize_image")).jobs if j.id == old.id] == [
        job_pb2.WAIT_REASON_PAUSED
    ]
    assert await client.resume("resize_image", "1.4.0")
    assert await client.resume("resize_image", "1.4.0") is False
    deadline = time.monotonic() + 5
    while (await client.get(old.id)).state != SUCCEEDED:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("handler", "version", "code", "field"),
    [
        ("nope", "", grpc.StatusCode.NOT_FOUND, "handler"),
        ("echo", "9.9.9", grpc.StatusCode.NOT_FOUND, "version"),
        ("echo", "^1", grpc.StatusCode.INVALID_ARGUMENT, "version"),
        ("", "", grpc.StatusCode.INVALID_ARGUMENT, "handler"),
    ],
)
async def test_bad_pause_requests(
    client: Client, handler: str, version: str, code: grpc.StatusCode, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.pause(handler, version)
    assert caught.value.code() == code
    assert field in (caught.value.details() or "") or field in str(caught.value.trailing_metadata())
    assert await client.list_pauses() == []


async def test_cli_pause_list_resume(server: JobsvcServer) -> None:
    address = f"127.0.0.1:{server.port}"
    paused = await asyncio.to_thread(jobsvc_cli, "pause", "echo", "--reason", "maintenance", server=address)
    assert paused.returncode == 0, paused.stderr
    assert '"handler": "echo"' in paused.stdout
    listed = await asyncio.to_thread(jobsvc_cli, "pause", server=address)
    assert "echo (every version)" in listed.stdout and "maintenance" in listed.stdout
    resumed = await asyncio.to_thread(jobsvc_cli, "resume", "echo", server=address)
    assert resumed.stdout.strip() == "resumed echo"


async def test_readme_example(client: Client) -> None:
    namespace: dict[str, Any] = {}
    exec(readme_block("pause-python", "python"), namespace)
    job = await client.submit("echo", 1)
    assert await namespace["maintenance_window"](client, "echo") == ["echo"]
    deadline = time.monotonic() + 5
    while (await client.get(job.id)).state != SUCCEEDED:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_pausing_a_flow_key_holds_that_tenant_only(start_server: StartServer, database_url: str) -> None:
    server = await start_server(handler_modules=["tests.flow_handlers"])
    conn = await asyncpg.connect(database_url)
    async with Client(f"127.0.0.1:{server.port}") as client:
        try:
            paused = await client.pause_flow_key("acme", reason="unpaid invoice")
            assert paused.flow_key == "acme" and paused.handler == ""
            held = [await client.submit("tenant_work", {"tenant": "acme"}) for _ in range(3)]
            others = [await client.submit("tenant_work", {"tenant": "globex"}) for _ in range(3)]
            for job in others:
                await _until(lambda job=job: _state_is(client, job.id, SUCCEEDED), timeout=5)
            await asyncio.sleep(0.3)
            for job in held:
                waiting = await client.get(job.id)
                assert waiting.state == job_pb2.JOB_STATE_QUEUED
                assert waiting.wait_reason == job_pb2.WAIT_REASON_PAUSED
            assert [p.flow_key for p in await client.list_pauses()] == ["acme"]
            assert await client.resume_flow_key("acme") is True
            for job in held:
                await _until(lambda job=job: _state_is(client, job.id, SUCCEEDED), timeout=3)
        finally:
            await conn.close()


async def _state_is(client: Client, job_id: str, state: int) -> bool:
    return bool((await client.get(job_id)).state == state)


async def test_a_pause_records_who_paused(start_server: StartServer) -> None:
    token = "tok-operator-7c1d"
    server = await start_server(auth=AuthConfig(tokens=f"oncall:admin,read:{token_digest(token)}"))
    bearer = (("authorization", f"Bearer {token}"),)
    async with Client(f"127.0.0.1:{server.port}", metadata=bearer) as client:
        paused = await client.pause("echo", reason="incident 42")
        assert paused.paused_by == "oncall"
        assert [(p.handler, p.paused_by, p.reason) for p in await client.list_pauses()] == [
            ("echo", "oncall", "incident 42")
        ]
        assert await client.resume("echo")


async def _schedule_jobs(conn: asyncpg.Connection, name: str) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT id, state FROM jobsvc_jobs WHERE labels ->> 'jobsvc.schedule' = $1", name))


async def test_a_schedule_skips_or_keeps_its_ticks_while_its_handler_is_paused(
    client: Client, database_url: str
) -> None:
    await client.pause("echo", reason="downstream outage")
    skip = await client.create_schedule("echo-skip", "echo", 1, every=0.2)
    keep = await client.create_schedule("echo-keep", "echo", 2, every=0.2, while_paused="keep")
    assert (skip.while_paused, keep.while_paused) == (
        schedule_service_pb2.WHILE_PAUSED_SKIP,
        schedule_service_pb2.WHILE_PAUSED_KEEP,
    )
    conn = await asyncpg.connect(database_url)
    try:
        await _until(lambda: _at_least(conn, "echo-keep", 3), timeout=5)
        kept = await _schedule_jobs(conn, "echo-keep")
        assert {row["state"] for row in kept} == {"queued"}
        assert (await client.get(str(kept[0]["id"]))).wait_reason == job_pb2.WAIT_REASON_PAUSED
        # Ticks while paused: none of the skipping schedule's became a job, and none will.
        assert await _schedule_jobs(conn, "echo-skip") == []
        assert (await client.get_schedule("echo-skip")).last_job_id == ""
        await client.resume("echo")
        # The kept ticks run at the resume; the skipping schedule carries on from its next tick.
        for row in kept:
            await _until(lambda row=row: _state_is(client, str(row["id"]), SUCCEEDED), timeout=5)
        await _until(lambda: _at_least(conn, "echo-skip", 1), timeout=5)
        ticks = [row["id"] for row in await _schedule_jobs(conn, "echo-skip")]
        assert len(ticks) <= 3, "a burst of skipped ticks ran at the resume"
    finally:
        await client.delete_schedule("echo-skip")
        await client.delete_schedule("echo-keep")
        await conn.close()


async def _at_least(conn: asyncpg.Connection, schedule: str, count: int) -> bool:
    return len(await _schedule_jobs(conn, schedule)) >= count


def test_readme_while_paused_example() -> None:
    namespace: dict[str, Any] = {}
    exec(readme_block("while-paused", "python"), namespace)
    [declared] = getattr(namespace["bill_hour"], HANDLER_ATTRIBUTE).declared_schedules()
    assert (declared.name, declared.while_paused) == ("hourly-billing", WhilePaused.KEEP)
