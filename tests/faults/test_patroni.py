"""Failover under Patroni (issue 18): a real etcd, two PostgreSQL nodes under Patroni
(synchronous mode) and HAProxy routing to the primary by Patroni's REST check, all on
loopback and run from deploy/ as they are; two jobsvc replicas configured by
deploy/patroni/jobsvc.toml, under Submit and Call load while the primary's machine
dies (its Patroni and PostgreSQL SIGKILLed)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.cli import parse_args, server_config
from jobsvc.executor import ExecutorConfig
from jobsvc.server import JobsvcServer
from tests.conftest import REPO
from tests.faults.dedicated_pg import prepare_database_at
from tests.faults.handlers import LEDGER_DSN_ENV, WORKER_ID_ENV
from tests.faults.ledger import Ledger, LedgerClient, check
from tests.faults.scenario import HealthLog, cancel_all, spec, submit_load, wait_until
from tests.faults.watchdog import Watchdog
from tests.patroni import MISSING, PatroniCluster

# Over a minute (Patroni's bootstrap, then its 20 s leader ttl): the long variant, run
# when JOBSVC_PATRONI=1 (the benchmark's reliability runs), not in every CI run.
LONG = os.environ.get("JOBSVC_PATRONI") == "1"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not LONG, reason="a minute long: set JOBSVC_PATRONI=1 to run it"),
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"not installed: {', '.join(MISSING)} (scripts/system-deps installs Debian's patroni, "
        "etcd-server and haproxy)",
    ),
]

JOBSVC_CONFIG = REPO / "deploy" / "patroni" / "jobsvc.toml"
SUBMIT_DEADLINE = 5.0
# A Submit begun as the primary dies waits for it at most --database-timeout (2 s in
# deploy/patroni/jobsvc.toml; HAProxy's connect timeout is 2 s too), then UNAVAILABLE.
FAIL_FAST = 3.0
CALL_DEADLINE = 15.0
LOAD_PAUSE = 0.05
# Patroni promotes the standby once the dead primary's leader key expires: ttl (20 s in
# deploy/patroni/patroni.yml) plus a loop.
PROMOTION_BOUND = 30.0
# Every jobsvc replica SERVING again this soon after Patroni's promotion (issue 18: 15 s).
SERVING_BOUND = 15.0


@pytest.fixture
def cluster() -> Iterator[PatroniCluster]:
    with tempfile.TemporaryDirectory(prefix="jobsvc-patroni-") as tmp:
        started = PatroniCluster(Path(tmp))
        try:
            started.start()
            yield started
        finally:
            started.close()


def _replica(url: str) -> JobsvcServer:
    """A jobsvc replica with deploy/patroni/jobsvc.toml's settings, on a free port."""
    config = server_config(parse_args(["serve", "--config", str(JOBSVC_CONFIG)], {"JOBSVC_DATABASE_URL": url}))
    return JobsvcServer(
        dataclasses.replace(
            config,
            host="127.0.0.1",
            port=0,
            http_port=None,
            drain_delay=0.0,
            shutdown_grace=1.0,
            handler_modules=["tests.faults.handlers"],
            executor=ExecutorConfig(concurrency=8, poll_interval=1.0),
            maintenance=MaintenanceConfig(rescue_interval=1.0),
        )
    )


async def test_failover_under_patroni_with_two_replicas(
    cluster: PatroniCluster, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves: the primary's Patroni and PostgreSQL SIGKILLed under Submit load on two
    jobsvc replicas: both go NOT_SERVING, Submits meanwhile answer UNAVAILABLE fast
    (never INTERNAL or UNKNOWN, never at their deadline); Patroni promotes the
    synchronous standby, HAProxy routes to it, and both replicas are SERVING again
    within SERVING_BOUND of the promotion, with no restart; Calls run after; with
    synchronous replication no acknowledged job is lost (L1-L7)."""
    url = await prepare_database_at(cluster.url("postgres"))
    monkeypatch.setenv(LEDGER_DSN_ENV, url)
    monkeypatch.delenv(WORKER_ID_ENV, raising=False)
    replicas = [_replica(url), _replica(url)]
    clients: list[LedgerClient] = []
    stop = asyncio.Event()
    tasks: list[asyncio.Future[Any]] = []
    try:
        for replica in replicas:
            await replica.start()
        targets = [f"127.0.0.1:{r.port}" for r in replicas]
        clients = [LedgerClient(ledger, t) for t in targets]
        healths = [HealthLog(t) for t in targets]
        async with Watchdog(ledger, url, tolerance=2.0):
            tasks += [asyncio.create_task(h.poll(stop)) for h in healths]
            loaders = [
                # A key is retried for up to 60 x 0.6 s: longer than the failover (about 30 s).
                asyncio.create_task(
                    submit_load(c, ledger, stop, deadline=SUBMIT_DEADLINE, pause=LOAD_PAUSE, retry_every=0.6)
                )
                for c in clients
                for _ in range(2)
            ]
            tasks += loaders
            await asyncio.sleep(2.0)
            old = cluster.primary()
            assert old is not None
            down = time.time()
            await asyncio.to_thread(cluster.crash, old)
            new = await wait_until(
                lambda: asyncio.to_thread(cluster.primary),
                timeout=PROMOTION_BOUND,
                what="Patroni's promotion",
                every=0.2,
            )
            promoted = time.time()
            ledger.fault(f"{old.name} crashed, {new.name} not yet promoted", down, promoted)
            writable = await _first_commit(url)  # through HAProxy, outside jobsvc
            came_back = [await _serving_after(h, promoted) for h in healths]
            calls = [c.call(spec("fault_work", {}, ledger.key("after")), timeout=CALL_DEADLINE) for c in clients * 3]
            answered = await asyncio.gather(*calls)
            stop.set()
            finals = [op for ops in await asyncio.gather(*loaders) for op in ops]
            await asyncio.gather(*tasks[:2])
        codes = Counter(op.code for op in ledger.ops)
        unavailable = [op.seconds for op in ledger.ops if op.code == "UNAVAILABLE"]
        went_down = [h.first("NOT_SERVING", down) for h in healths]
        print(
            f"[patroni] {old.name} crashed; {new.name} promoted {promoted - down:.1f}s later, a commit through "
            f"HAProxy {writable - promoted:.1f}s after that; replicas NOT_SERVING "
            f"{[round(t - down, 2) if t else None for t in went_down]}s after the crash, SERVING "
            f"{[round(t - promoted, 2) for t in came_back]}s after the promotion; codes {dict(codes)}; "
            f"UNAVAILABLE median {statistics.median(unavailable) if unavailable else 0:.3f}s, "
            f"max {max(unavailable, default=0):.3f}s"
        )
        assert new is not old
        assert all(t is not None for t in went_down), [h.seen for h in healths]
        assert max(came_back) - promoted <= SERVING_BOUND
        assert set(codes) <= {"OK", "UNAVAILABLE"}, codes
        assert max(unavailable, default=0) < FAIL_FAST
        assert {op.state for op in answered} == {"succeeded"}, answered
        assert {op.outcome for op in finals} == {"ok"}, Counter(op.code for op in finals)
        counts = await check(ledger, url, ack_target=targets[0], drain_timeout=60)
        assert counts.lost == 0
    finally:
        stop.set()
        await cancel_all(tasks)
        for client in clients:
            await client.close()
        for replica in replicas:
            await replica.stop(1.0)


async def _serving_after(health: HealthLog, moment: float) -> float:
    """When health first said SERVING after moment (waiting for it)."""

    async def seen() -> float | None:
        return health.first("SERVING", moment)

    return await wait_until(seen, timeout=SERVING_BOUND + 5, what="health SERVING")


async def _first_commit(url: str) -> float:
    """When a commit through HAProxy first succeeded (a fresh connection each try): when
    the promoted primary took writes, whatever jobsvc saw."""

    async def commit() -> float | None:
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            conn = await asyncpg.connect(url, timeout=1)
            try:
                await conn.execute("SET statement_timeout = 1000; CREATE TABLE IF NOT EXISTS patroni_probe (at float)")
                await conn.execute("INSERT INTO patroni_probe VALUES ($1)", time.time(), timeout=2)
                return time.time()
            finally:
                await conn.close(timeout=1)
        return None

    return await wait_until(commit, timeout=SERVING_BOUND + 5, what="a commit on the promoted primary", every=0.2)
