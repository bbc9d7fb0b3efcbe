"""Outcomes that survive a database outage (issue 18): a job that finished while the
database was unreachable (the link to it cut: connections reset, new ones refused) is
settled once it is back, with its attempt token, instead of waiting out its lease and
running again.

Timing: the old settle path tried a failed write again for half the lease, then dropped
it. The executor's outage here is longer than that and shorter than two thirds of the
lease (what is left of a lease extended every third of it), so the finished attempt is
still the current one when the database answers: only a kept outcome can settle it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.executor import ExecutorConfig
from jobsvc.sdk.worker import RemoteWorker, WorkerConfig
from tests.conftest import StartServer
from tests.faults.handlers import lifespan
from tests.faults.ledger import Ledger, LedgerClient, check, until_ok
from tests.faults.records import Op
from tests.faults.scenario import cancel_all, runs_per_job, spec, wait_until
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

LEASE = 18.0
JOBS = 4
JOB_SECONDS = 1.5
# The link is cut this long after every job started: they finish during the outage.
CUT_AFTER = 1.0
# From the cut: over LEASE / 2 (the old path's patience) after the jobs finished, under
# 2/3 LEASE less a health check and the write.
LONG_OUTAGE = 10.5
# A worker's settlement the old path did not try again at all.
SHORT_OUTAGE = 3.0
# A Call answers this soon after the link is back (a health check, then the write).
ANSWER_BOUND = 2.0


@contextlib.asynccontextmanager
async def _remote_worker(target: str) -> AsyncIterator[RemoteWorker]:
    """A worker on the server's Work stream, running the fault handlers in this process."""
    async with lifespan() as resources:  # the handlers' ledger pool
        table = HandlerTable(load_module("tests.faults.handlers").handlers)
        config = WorkerConfig(worker_id="kept-outcomes", lease_seconds=LEASE, shutdown_grace=2.0)
        worker = RemoteWorker(target, table, config=config, resources=resources)
        running = asyncio.create_task(worker.run())
        try:
            await asyncio.wait_for(worker.connected.wait(), 15)
            yield worker
        finally:
            worker.stop()
            await asyncio.wait_for(running, 30)


async def _started(dsn: str, count: int) -> bool:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM fault_executions")) >= count
    finally:
        await conn.close()


@pytest.mark.parametrize(("consumer", "outage"), [("executor", LONG_OUTAGE), ("worker", SHORT_OUTAGE)])
async def test_outcome_written_once_the_database_is_back(
    start_server: StartServer, ledger_dsn: str, ledger: Ledger, consumer: str, outage: float
) -> None:
    """Proves: jobs that finish while the link to the database is cut are settled once it
    is back, by the in-process executor (an outage over half the lease) and through a
    remote worker's Work stream alike: each ran once, and each Call (its client retrying
    the UNAVAILABLE answers with the same idempotency key, as clients do) answers
    SUCCEEDED within ANSWER_BOUND of the link's return, not after its lease and a second
    run; the ledger finds nothing lost."""
    parts = urlsplit(ledger_dsn)  # the test's database: the ledger's link is not cut
    proxy = await TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    server = await start_server(
        database_url=urlunsplit(parts._replace(netloc=f"{parts.username}@{proxy.address}")),
        handler_modules=["tests.faults.handlers"] if consumer == "executor" else [],
        executor=ExecutorConfig(concurrency=8, poll_interval=1.0, lease_seconds=LEASE),
        maintenance=MaintenanceConfig(rescue_interval=0.5),
    )
    target = f"127.0.0.1:{server.port}"
    client = LedgerClient(ledger, target)
    workers = contextlib.AsyncExitStack()
    calls: list[asyncio.Task[Op]] = []

    async def call(key: str) -> Op:
        job = spec("fault_work", {"sleep": JOB_SECONDS}, key)
        return await until_ok([client], "call", job, timeout=LEASE * 3, tries=int(LEASE * 10), pause=0.1)

    try:
        if consumer == "worker":
            await workers.enter_async_context(_remote_worker(target))
        calls += [asyncio.create_task(call(ledger.key(f"call{i}"))) for i in range(JOBS)]
        await wait_until(lambda: _started(ledger_dsn, JOBS), timeout=10, what="every job to start")
        await asyncio.sleep(CUT_AFTER)
        cut = time.time()
        proxy.block()  # the jobs finish during the outage
        await asyncio.sleep(outage)
        proxy.unblock()
        back = time.time()
        ledger.fault("link to the database cut", cut, back)
        answered = [await call for call in calls]
        runs = await runs_per_job(ledger_dsn, [op.job_id for op in answered])
        latest = max(op.end for op in answered) - back
        print(f"[faults] {consumer}: link cut {back - cut:.1f}s; the last Call answered {latest:.2f}s after")
        assert [op.state for op in answered] == ["succeeded"] * JOBS, answered
        assert set(runs.values()) == {1}, f"executions per job: {runs}"
        assert latest < ANSWER_BOUND
        counts = await check(ledger, ledger_dsn, ack_target=target, drain_timeout=30)
        assert counts.lost == 0
    finally:
        await cancel_all(calls)
        await workers.aclose()
        await client.close()
        await proxy.close()
