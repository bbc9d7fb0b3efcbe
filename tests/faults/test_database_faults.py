"""PostgreSQL stopped (immediate mode, as a crash) and started again under submit load."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from grpc_health.v1 import health_pb2

from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.executor import ExecutorConfig
from jobsvc.server import JobsvcServer, ServerConfig
from tests.faults.dedicated_pg import DedicatedPostgres, prepare_database
from tests.faults.handlers import LEDGER_DSN_ENV, WORKER_ID_ENV
from tests.faults.ledger import Ledger, LedgerClient, check
from tests.faults.scenario import HealthLog, cancel_all, submit_load, wait_until
from tests.faults.watchdog import Watchdog

pytestmark = pytest.mark.slow

SUBMIT_DEADLINE = 3.0
OUTAGE = 3.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _server(dsn: str) -> JobsvcServer:
    return JobsvcServer(
        ServerConfig(
            host="127.0.0.1",
            port=0,
            database_url=dsn,
            handler_modules=["tests.faults.handlers"],
            executor=ExecutorConfig(concurrency=8, poll_interval=1.0, lease_seconds=3.0),
            maintenance=MaintenanceConfig(rescue_interval=0.5),
            health_interval=0.5,
            shutdown_grace=1.0,
        )
    )


async def test_postgres_restart_under_submit_load(
    dedicated_pg: DedicatedPostgres, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves: while PostgreSQL is down (stopped in immediate mode, then started again)
    Submits fail fast with UNAVAILABLE, never UNKNOWN and never hanging to their deadline;
    health goes NOT_SERVING and back to SERVING; every job whose Submit was acknowledged
    survives and ends terminal, and retries with the same key make one job (L1-L7)."""
    dsn = await prepare_database(dedicated_pg)
    monkeypatch.setenv(LEDGER_DSN_ENV, dsn)
    monkeypatch.delenv(WORKER_ID_ENV, raising=False)
    server = _server(dsn)
    await server.start()
    target = f"127.0.0.1:{server.port}"
    client = LedgerClient(ledger, target)
    health = HealthLog(target)
    stop = asyncio.Event()
    tasks: list[asyncio.Future[Any]] = []
    try:
        async with Watchdog(ledger, dsn, tolerance=2.0):
            watching = asyncio.create_task(health.poll(stop))
            loaders = [
                asyncio.create_task(submit_load(client, ledger, stop, deadline=SUBMIT_DEADLINE)) for _ in range(4)
            ]
            tasks += [watching, *loaders]
            await asyncio.sleep(2.0)
            down = time.time()
            await dedicated_pg.stop_immediate()
            await asyncio.sleep(OUTAGE)
            await dedicated_pg.start()
            up = time.time()
            ledger.fault("postgres down", down, up)
            await asyncio.sleep(3.0)
            await wait_until(lambda: _serving_after(health, up), timeout=15, what="health SERVING again")
            stop.set()
            finals = [op for ops in await asyncio.gather(*loaders) for op in ops]
            await watching
        _assert_failed_fast(ledger, down, up)
        _assert_health_flipped(health, down, up)
        assert {op.outcome for op in finals} == {"ok"}, Counter(op.code for op in finals)
        counts = await check(ledger, dsn, ack_target=target, drain_timeout=30)
        assert counts.lost == 0
    finally:
        stop.set()
        await cancel_all(tasks)
        await client.close()
        await server.stop(1.0)


async def _serving_after(health: HealthLog, moment: float) -> bool:
    return health.first("SERVING", moment) is not None


def _assert_failed_fast(ledger: Ledger, down: float, up: float) -> None:
    codes = Counter(op.code for op in ledger.ops)
    unavailable = [op for op in ledger.ops if op.code == "UNAVAILABLE"]
    slowest = max((op.seconds for op in unavailable), default=0.0)
    print(f"[faults] outage {up - down:.1f}s: {dict(codes)}; slowest UNAVAILABLE {slowest:.2f}s")
    assert set(codes) <= {"OK", "UNAVAILABLE"}, f"codes other than OK/UNAVAILABLE: {dict(codes)}"
    assert unavailable, "no Submit saw the outage"
    assert slowest < SUBMIT_DEADLINE / 2, f"an UNAVAILABLE took {slowest:.2f}s: not failing fast"


def _assert_health_flipped(health: HealthLog, down: float, up: float) -> None:
    before = [s for t, s in health.seen if t < down]
    went_down = health.first("NOT_SERVING", down)
    came_back = health.first("SERVING", up)
    assert before and before[-1] == "SERVING", before
    assert went_down is not None and went_down <= up + 1.0, health.seen
    assert came_back is not None, health.seen
    print(f"[faults] health NOT_SERVING {went_down - down:.2f}s after the stop, SERVING {came_back - up:.2f}s after")
