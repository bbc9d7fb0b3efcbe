"""Connection management for balancers (ConnectionConfig): maximum connection age,
maximum message size, maximum concurrent streams; each asserted as grpc really behaves."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import code_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.sdk import Client, RemoteWorker, error_details
from jobsvc.server import ConnectionConfig
from jobsvc.v1 import ack_service_pb2, ack_service_pb2_grpc, job_pb2
from tests.conftest import StartServer
from tests.tcp_proxy import TcpProxy


async def test_a_connection_is_closed_after_its_max_age_and_the_client_reconnects(start_server: StartServer) -> None:
    """Proves: after --max-connection-age the server sends GOAWAY; a Call open at that
    moment finishes within the age grace, and the client reconnects by itself (a new
    TCP connection, seen by a proxy in between) with no failed call."""
    server = await start_server(connection=ConnectionConfig(max_connection_age=1.0, max_connection_age_grace=5.0))
    proxy = await TcpProxy("127.0.0.1", server.port).start()
    try:
        async with Client(proxy.address) as client:
            # Open across the first GOAWAY (1 s +-10%): it must still be answered.
            spanning = asyncio.create_task(client.call("sleepy", {"seconds": 2.0}, timeout=30))
            began = time.monotonic()
            answers = 0
            while time.monotonic() - began < 4.0:
                assert (await client.call("echo", answers, timeout=10)).result.json.number_value == answers
                answers += 1
                await asyncio.sleep(0.1)
            assert (await spanning).state == job_pb2.JOB_STATE_SUCCEEDED
        print(f"[connections] {answers} calls in 4 s over {proxy.accepted} connections")
        assert proxy.accepted >= 2, "the client never reconnected: no GOAWAY after the max age"
    finally:
        await proxy.close()


LIMIT = 64 * 1024


async def test_an_oversized_request_is_resource_exhausted_naming_the_limit(start_server: StartServer) -> None:
    """Proves: a request over --max-message-bytes gets RESOURCE_EXHAUSTED whose message and
    ErrorInfo name the limit; far over it (above the 2x ceiling grpc enforces before reading
    the message) grpc's own RESOURCE_EXHAUSTED, which names the ceiling; the server stays up."""
    server = await start_server(connection=ConnectionConfig(max_message_bytes=LIMIT))
    async with Client(f"127.0.0.1:{server.port}") as client:
        with pytest.raises(grpc.aio.AioRpcError) as over:
            await client.submit("echo", "x" * (LIMIT + 100), timeout=10)
        details = error_details(over.value)
        assert details.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert f"limit of {LIMIT} bytes" in details.message and "--max-message-bytes" in details.message
        assert details.reason == "LIMIT_EXCEEDED" and details.metadata["limit"] == str(LIMIT)
        with pytest.raises(grpc.aio.AioRpcError) as far_over:
            await client.submit("echo", "x" * (3 * LIMIT), timeout=10)
        assert far_over.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert str(2 * LIMIT) in (far_over.value.details() or ""), far_over.value.details()
        print(f"[connections] over the limit: {details.message!r}; far over: {far_over.value.details()!r}")
        # Within the limit: answered (the response, input and result, must fit in it too).
        assert (await client.call("echo", "x" * (LIMIT // 3), timeout=10)).result.json.string_value


async def _call_retrying(client: Client, key: str, refusals: list[str]) -> job_pb2.Job:
    """A Call of a 0.5 s job, retried with its idempotency key while it is UNAVAILABLE."""
    for _ in range(20):
        try:
            return await client.call("sleepy", {"seconds": 0.5}, idempotency_key=key, timeout=60)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            refusals.append(exc.details() or "")
    raise AssertionError(f"call {key} refused 20 times: {refusals[-1]}")


async def _max_overlap(client: Client, calls: int, refusals: list[str]) -> int:
    """Run `calls` concurrent Calls on one channel; the most jobs that existed at once."""
    keys = [f"overlap-{uuid.uuid4().hex}" for _ in range(calls)]
    jobs = await asyncio.gather(*(_call_retrying(client, key, refusals) for key in keys))
    assert {job.state for job in jobs} == {job_pb2.JOB_STATE_SUCCEEDED}, jobs
    spans = [(j.create_time.ToNanoseconds(), j.finish_time.ToNanoseconds()) for j in jobs]
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


async def test_streams_above_max_concurrent_streams_wait_in_the_client(start_server: StartServer) -> None:
    """Proves: with --max-concurrent-streams 2, six Calls sent at once on one connection never
    have more than two open on the server at a time (unlike on a server without the limit):
    the client holds the others back until a stream ends. What grpc really does besides:
    now and then a stream the client sends just as another ends is refused by the server
    (RST_STREAM REFUSED_STREAM, seen as UNAVAILABLE, which the client retries with the
    same idempotency key); nothing else fails."""
    limited = await start_server(connection=ConnectionConfig(max_concurrent_streams=2))
    unlimited = await start_server(connection=ConnectionConfig(max_concurrent_streams=0))
    refusals: list[str] = []
    async with Client(f"127.0.0.1:{limited.port}") as client:
        await client.call("echo", 0, timeout=10)  # connected: the server's SETTINGS are known
        with_limit = await _max_overlap(client, 6, refusals)
    async with Client(f"127.0.0.1:{unlimited.port}") as client:
        await client.call("echo", 0, timeout=10)
        without_limit = await _max_overlap(client, 6, [])
    print(f"[connections] jobs at once: {with_limit} with the limit of 2, {without_limit} without; refused {refusals}")
    assert with_limit <= 2
    assert without_limit > 2
    assert all("REFUSED_STREAM" in r or "error code 7" in r for r in refusals), refusals


@pytest.mark.parametrize(
    ("server_side", "connections"),
    [
        (ConnectionConfig(min_ping_interval=0.5), 1),
        # The defaults: a client pinging every second is more than 10 s allows.
        (ConnectionConfig(), 2),
        (ConnectionConfig(min_ping_interval=0.5, keepalive_permit_without_calls=False), 2),
    ],
)
async def test_client_keepalive_pings_are_policed_by_the_server(
    start_server: StartServer, server_side: ConnectionConfig, connections: int
) -> None:
    """Proves: a client that pings an idle connection every second keeps it when the
    server's --min-ping-interval allows it and --keepalive-permit-without-calls is on;
    otherwise the server answers GOAWAY too_many_pings and the client reconnects."""
    server = await start_server(connection=server_side)
    proxy = await TcpProxy("127.0.0.1", server.port).start()
    client_side = [
        ("grpc.keepalive_time_ms", 1000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]
    try:
        async with grpc.aio.insecure_channel(proxy.address, options=client_side) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
            await asyncio.sleep(5.0)  # idle: only pings
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert proxy.accepted == connections
    finally:
        await proxy.close()


async def test_an_oversized_message_on_a_work_stream_is_answered_without_ending_it(start_server: StartServer) -> None:
    """Proves: on the bidirectional Work stream an oversized message is answered with a
    `settled` of code RESOURCE_EXHAUSTED naming the limit, and the session carries on."""
    server = await start_server(connection=ConnectionConfig(max_message_bytes=LIMIT))
    huge = ack_service_pb2.WorkRequest(
        progress=ack_service_pb2.ReportProgressRequest(
            job_id=str(uuid.uuid4()), attempt_token="t", progress=job_pb2.Progress(message="x" * (LIMIT + 10))
        )
    )
    sent_all = asyncio.Event()
    target = f"127.0.0.1:{server.port}"

    async with grpc.aio.insecure_channel(target) as channel:
        hello = RemoteWorker(target, HandlerTable(load_module("tests.handlers").handlers), channel=channel).hello()

        async def requests() -> AsyncIterator[ack_service_pb2.WorkRequest]:
            yield ack_service_pb2.WorkRequest(hello=hello)
            yield huge
            yield ack_service_pb2.WorkRequest(hello=hello)
            await sent_all.wait()

        stream = ack_service_pb2_grpc.AckServiceStub(channel).Work(requests(), timeout=20)
        kinds, settled = [], []
        async for response in stream:
            kinds.append(response.WhichOneof("kind"))
            if response.WhichOneof("kind") == "settled":
                settled.append(response.settled)
            if len(settled) == 2:
                break
        sent_all.set()
        stream.cancel()
    assert kinds[0] == "welcome"
    assert (settled[0].code, settled[0].reason) == (code_pb2.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED")
    assert str(LIMIT) in settled[0].message
    assert settled[1].reason == "HELLO_TWICE"  # the session went on reading
