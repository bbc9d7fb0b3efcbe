"""grpc.health.v1 reflects the ability to serve, for the whole server ("") and for each
jobsvc service: NOT_SERVING while the database is unreachable and while draining."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jobsvc.sdk import Client
from jobsvc.server import LIVENESS_SERVICE, SERVICE_NAMES, JobsvcServer
from tests.conftest import StartServer
from tests.tcp_proxy import TcpProxy

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
EVERY_SERVICE = ("", *SERVICE_NAMES)


@dataclass
class Watches:
    """One Health/Watch stream per service name; the last status each one saw."""

    target: str
    latest: dict[str, int] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def _watch(self, stub: health_pb2_grpc.HealthStub, service: str) -> None:
        async for response in stub.Watch(health_pb2.HealthCheckRequest(service=service)):
            self.latest[service] = response.status

    async def wait_all(self, status: int, timeout: float = 20) -> float:
        """Wait until every service reports status; when that happened."""
        deadline = time.monotonic() + timeout
        while any(self.latest.get(s) != status for s in EVERY_SERVICE):
            if time.monotonic() > deadline:
                raise AssertionError(f"not every service {status}: {self.latest}")
            await asyncio.sleep(0.05)
        return time.monotonic()


@pytest.fixture
async def watch() -> AsyncIterator[object]:
    """watch(target) starts Watches on every service; all cancelled after the test."""
    channels: list[grpc.aio.Channel] = []
    started: list[Watches] = []

    async def start(target: str) -> Watches:
        channel = grpc.aio.insecure_channel(target)
        channels.append(channel)
        stub = health_pb2_grpc.HealthStub(channel)
        watches = Watches(target)
        watches.tasks = [asyncio.create_task(watches._watch(stub, s)) for s in EVERY_SERVICE]
        started.append(watches)
        return watches

    yield start
    for watches in started:
        for task in watches.tasks:
            task.cancel()
        await asyncio.gather(*watches.tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()


async def test_not_serving_on_every_service_while_the_database_is_unreachable(
    database_url: str, start_server: StartServer, watch: object
) -> None:
    """Proves: when the link to PostgreSQL is cut, every service (and the whole server)
    turns NOT_SERVING and Submit answers UNAVAILABLE, while "liveness" stays SERVING;
    once the link is back, SERVING again."""
    parts = urlsplit(database_url)
    proxy = await TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    try:
        through_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@{proxy.address}"))
        server = await start_server(database_url=through_proxy, health_interval=0.3)
        watches = await watch(f"127.0.0.1:{server.port}")  # type: ignore[operator]
        await watches.wait_all(SERVING)
        cut = time.monotonic()
        proxy.block()
        noticed = await watches.wait_all(NOT_SERVING)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            alive = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=LIVENESS_SERVICE), timeout=5
            )
        assert alive.status == SERVING, "liveness must not follow the database (probes would restart every pod)"
        async with Client(f"127.0.0.1:{server.port}") as client:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await client.submit("echo", 1, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, refused.value
        proxy.unblock()
        back = await watches.wait_all(SERVING)
        print(f"[health] NOT_SERVING {noticed - cut:.2f}s after the cut, SERVING {back - noticed:.2f}s later")
        async with Client(f"127.0.0.1:{server.port}") as client:
            assert (await client.call("echo", 2, timeout=20)).result.json.number_value == 2
    finally:
        await proxy.close()


async def test_draining_is_not_serving_on_every_service_while_rpcs_are_still_taken(
    start_server: StartServer, watch: object
) -> None:
    """Proves: stop() turns every service NOT_SERVING at once, keeps answering RPCs for
    the drain delay (so a balancer can notice first), a second signal (cut_drain_delay)
    ends the delay, and afterwards new RPCs are refused."""
    server: JobsvcServer = await start_server(drain_delay=60.0)
    target = f"127.0.0.1:{server.port}"
    watches = await watch(target)  # type: ignore[operator]
    await watches.wait_all(SERVING)
    stopping = asyncio.create_task(server.stop(1.0))
    try:
        await watches.wait_all(NOT_SERVING)
        async with Client(target) as client:
            called = await client.call("echo", "still here", timeout=10)
        assert called.result.json.string_value == "still here"
        assert not stopping.done()
        server.cut_drain_delay()
        await asyncio.wait_for(stopping, 15)
    finally:
        if not stopping.done():
            server.cut_drain_delay()
            await stopping
    async with Client(target) as client:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await client.call("echo", "too late", timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
