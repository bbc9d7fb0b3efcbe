"""Past one primary: two shards, each a jobsvc server on a PostgreSQL cluster of its own,
and the SDK's ShardRouter sending each handler's calls to its shard (README, "Scaling
past one primary")."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest

from jobsvc.sdk import ShardRouter
from jobsvc.server import JobsvcServer, ServerConfig
from jobsvc.v1 import job_pb2
from tests.conftest import FAST_EXECUTOR, FAST_MAINTENANCE
from tests.faults.dedicated_pg import DedicatedPostgres, prepare_database_at
from tests.readme import readme_block

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

# While its PostgreSQL is down a shard's Submits must fail well before their deadline.
SUBMIT_DEADLINE = 5.0
FAIL_FAST = 1.5
JOBS_PER_HANDLER = 5


class Shard:
    """One shard: a PostgreSQL cluster of its own and a jobsvc server on it."""

    def __init__(self, pg: DedicatedPostgres, database_url: str, server: JobsvcServer) -> None:
        self.pg = pg
        self.database_url = database_url
        self.server = server

    @property
    def address(self) -> str:
        """The server's host:port."""
        return f"127.0.0.1:{self.server.port}"

    async def handlers_of_jobs(self) -> set[str]:
        """The handlers of every job in this shard's database."""
        conn = await asyncpg.connect(self.database_url)
        try:
            return {row["handler"] for row in await conn.fetch("SELECT DISTINCT handler FROM jobsvc_jobs")}
        finally:
            await conn.close()


async def dedicated_clusters(base: Path, count: int) -> list[DedicatedPostgres]:
    """`count` PostgreSQL clusters of their own, initialised side by side; none left running on failure."""
    started = await asyncio.gather(
        *(asyncio.to_thread(DedicatedPostgres, base / f"pg{index}") for index in range(count)), return_exceptions=True
    )
    clusters = [pg for pg in started if isinstance(pg, DedicatedPostgres)]
    failed = [error for error in started if isinstance(error, BaseException)]
    if failed:
        await asyncio.gather(*(asyncio.to_thread(pg.close) for pg in clusters))
        raise failed[0]
    return clusters


@contextlib.asynccontextmanager
async def shard(pg: DedicatedPostgres) -> AsyncIterator[Shard]:
    """A migrated database on pg and a jobsvc server on it, always stopped."""
    database_url = await prepare_database_at(pg.dsn)
    server = JobsvcServer(
        ServerConfig(
            host="127.0.0.1",
            port=0,
            database_url=database_url,
            handler_modules=["tests.handlers"],
            executor=FAST_EXECUTOR,
            maintenance=FAST_MAINTENANCE,
            health_interval=0.5,
            shutdown_grace=1.0,
        )
    )
    await server.start()
    try:
        yield Shard(pg, database_url, server)
    finally:
        await server.stop(1.0)


@pytest.fixture
async def shards() -> AsyncIterator[tuple[Shard, Shard]]:
    """Two shards: every server stopped, then every cluster, whatever happens."""
    with tempfile.TemporaryDirectory(prefix="jobsvc-shards-") as tmp:
        async with contextlib.AsyncExitStack() as stack:
            clusters = await dedicated_clusters(Path(tmp), 2)
            for pg in clusters:
                stack.push_async_callback(asyncio.to_thread, pg.close)
            first, second = [await stack.enter_async_context(shard(pg)) for pg in clusters]
            yield first, second


async def test_each_handler_runs_on_its_shard_and_a_shard_down_fails_alone(shards: tuple[Shard, Shard]) -> None:
    """Proves: the README's example runs; jobs of `echo` (routed to shard 1) are only in
    shard 1's database and those of `greet` only in shard 2's; get and cancel by handler
    and id, and a Submit-and-Stream, reach the right shard; with shard 1's PostgreSQL
    stopped, echo's Submits fail fast with UNAVAILABLE while greet's Calls still succeed
    on shard 2."""
    one, two = shards
    namespace: dict[str, Any] = {}
    exec(readme_block("shard-router", "python"), namespace)
    assert await namespace["on_two_shards"](one.address, two.address) == [{"n": 1}, "hello, ada"]

    async with ShardRouter({"echo": one.address, "greet": two.address}) as router:
        echoed = [await router.call("echo", {"n": n}, timeout=10) for n in range(JOBS_PER_HANDLER)]
        greeted = [await router.call("greet", {"name": f"n{n}"}, timeout=10) for n in range(JOBS_PER_HANDLER)]
        assert {job.state for job in echoed + greeted} == {job_pb2.JOB_STATE_SUCCEEDED}
        assert (await router.get("greet", greeted[0].id)).id == greeted[0].id
        streamed = [event async for event in router.stream("greet", input={"name": "streamed"})]
        assert streamed[-1].WhichOneof("kind") == "succeeded"
        waiting = await router.submit("echo", 1, delay=3600)
        assert (await router.cancel("echo", waiting.id)).state == job_pb2.JOB_STATE_CANCELLED
        with pytest.raises(grpc.aio.AioRpcError) as not_here:
            await router.get("greet", echoed[0].id)  # an echo job, asked of greet's shard
        assert not_here.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(LookupError):
            router.client("resize_image")  # no route, no default
        assert await one.handlers_of_jobs() == {"echo"}
        assert await two.handlers_of_jobs() == {"greet"}

        await one.pg.stop_immediate()
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError) as down:
                await router.submit("echo", 1, timeout=SUBMIT_DEADLINE)
            assert down.value.code() == grpc.StatusCode.UNAVAILABLE
            assert time.monotonic() - started < FAIL_FAST
            job = await router.call("greet", {"name": "after"}, timeout=10)
            assert job.state == job_pb2.JOB_STATE_SUCCEEDED
        assert await two.handlers_of_jobs() == {"greet"}
