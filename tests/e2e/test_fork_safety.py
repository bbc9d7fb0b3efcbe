"""Children forked while gRPC is busy in this process start (see tests/__init__.py)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tests.processes import postgres_account, spawn_logged

CHILDREN = 100
CALLERS = 8


@pytest.mark.skipif(os.geteuid() != 0, reason="forks as another account only as root (as Patroni's nodes are)")
async def test_children_forked_as_another_account_while_grpc_is_busy_all_start() -> None:
    """Proves: with gRPC's fork handlers off (the suite's setting), children forked as the
    PostgreSQL account (fork, not vfork) while 8 callers keep this process's gRPC threads
    busy all run. With them on, 229 of 500 such children died by SIGSEGV before exec."""
    assert os.environ.get("GRPC_ENABLE_FORK_SUPPORT") == "false"
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = health_pb2_grpc.HealthStub(channel)
    busy = True

    async def call() -> None:
        while busy:
            await stub.Check(health_pb2.HealthCheckRequest())

    callers = [asyncio.create_task(call()) for _ in range(CALLERS)]
    try:
        with tempfile.TemporaryDirectory() as tmp:

            def fork_one(index: int) -> int:
                child = spawn_logged(["/bin/true"], Path(tmp) / f"{index}.log", account=postgres_account())
                return child.wait(30)

            codes = [await asyncio.to_thread(fork_one, i) for i in range(CHILDREN)]
    finally:
        busy = False
        await asyncio.gather(*callers, return_exceptions=True)
        await channel.close()
        await server.stop(None)
    assert codes == [0] * CHILDREN, sorted(set(codes))
