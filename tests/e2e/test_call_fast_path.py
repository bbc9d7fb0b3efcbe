"""A Call's job starts at once on a free slot of the replica that took the Call: inserted
already claimed, in one statement, with no claim round trip; never ahead of a due job of
its version, never for a job with an idempotency key or flow control, and never left
unrun when the caller goes away in the middle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest

from jobsvc.domain.jobs import JobSpec, NewJob, Payload
from jobsvc.executor import ExecutorConfig
from jobsvc.sdk import Client
from jobsvc.server import JobsvcServer
from jobsvc.store.postgres import PgStore
from jobsvc.v1 import job_pb2
from tests.conftest import StartServer
from tests.e2e.test_core import wait_state

SUCCEEDED = job_pb2.JOB_STATE_SUCCEEDED
# One slot, and no poll for jobs the server was not told about: the order test below
# controls exactly which jobs are due.
ONE_SLOT = ExecutorConfig(concurrency=1, poll_interval=60.0, lease_seconds=30.0)


@pytest.fixture
async def one_slot(start_server: StartServer) -> JobsvcServer:
    return await start_server(executor=ONE_SLOT)


@pytest.fixture
async def client(one_slot: JobsvcServer) -> AsyncIterator[Client]:
    async with Client(f"127.0.0.1:{one_slot.port}") as c:
        yield c


def _started_at_insert(job: job_pb2.Job) -> bool:
    """Whether the job started in the statement that created it (both stamped with that
    transaction's now()); a claim afterwards always starts it later."""
    return job.start_time.ToDatetime() == job.create_time.ToDatetime()


async def test_a_call_starts_in_its_insert_on_a_free_local_slot(client: Client, one_slot: JobsvcServer) -> None:
    """Proves: a Call on a replica with a free slot for its version gets its result, and
    the job started in the statement that inserted it, claimed by this replica's
    executor (the started event names it), as attempt 1 with gap-free events."""
    for value in range(5):
        job = await client.call("echo", value, timeout=10)
        assert job.state == SUCCEEDED and job.attempt == 1
        assert _started_at_insert(job), "the job waited for a claim"
    events = [e async for e in client.stream(job.id)]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert [e.WhichOneof("kind") for e in events] == ["queued", "started", "succeeded"]
    assert events[1].started.executor == one_slot.config.name


async def test_a_call_never_starts_ahead_of_a_due_job_of_its_version(
    client: Client, one_slot: JobsvcServer, database_url: str
) -> None:
    """Proves: when a job of the same version is due and waiting (inserted here without
    waking the executor, whose poll is a minute away), a Call's job is queued behind it
    instead of starting at once, and the waiting job runs first."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        store = PgStore(pool)  # inserts without telling any executor that the job is due
        spec = JobSpec(handler="echo", version_selector="1.0.0", input=Payload(json="first"))
        [(waiting, _)] = await store.job_insert_many([NewJob(spec, "1.0.0")])
        called = await client.call("echo", "second", timeout=10)
        first = await wait_state(client, waiting.id, SUCCEEDED)
        assert called.state == SUCCEEDED
        assert not _started_at_insert(called), "the Call's job started ahead of a due job of its version"
        assert first.start_time.ToDatetime() <= called.start_time.ToDatetime()
    finally:
        await pool.close()


async def test_a_call_with_an_idempotency_key_takes_the_usual_path(client: Client) -> None:
    """Proves: a job with an idempotency key is inserted queued and claimed (the usual
    path, which finds an earlier job by its key), and a repeated Call gets the same job."""
    job = await client.call("echo", 1, idempotency_key="call-once", timeout=10)
    again = await client.call("echo", 1, idempotency_key="call-once", timeout=10)
    assert job.state == SUCCEEDED and again.id == job.id
    assert not _started_at_insert(job)


async def test_a_caller_gone_mid_insert_leaves_no_job_unrun(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """Proves: when the caller's deadline passes while its job is being inserted already
    started, the job still runs at once on the slot reserved for it (it does not sit
    RUNNING, unrun, until its 30 s lease runs out)."""
    insert = PgStore.job_insert_started

    async def slow_insert(self: PgStore, *args: Any, **kwargs: Any) -> Any:
        started = await insert(self, *args, **kwargs)
        await asyncio.sleep(0.5)  # the caller's 0.2 s deadline passes meanwhile
        return started

    monkeypatch.setattr(PgStore, "job_insert_started", slow_insert)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.call("echo", "orphan", timeout=0.2)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    [job] = [j for j in (await client.list_jobs(handler="echo")).jobs]
    done = await wait_state(client, job.id, SUCCEEDED, timeout=5)
    assert _started_at_insert(done)
