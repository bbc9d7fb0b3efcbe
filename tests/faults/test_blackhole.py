"""A network blackhole between jobsvc and PostgreSQL: packets vanish, sockets stay open,
nothing is refused. Unlike a refused or reset connection, nothing tells the client;
only time limits can."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import pytest

from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.executor import ExecutorConfig
from tests.conftest import StartServer
from tests.faults.ledger import Ledger, LedgerClient, check
from tests.faults.records import Op
from tests.faults.scenario import HealthLog, cancel_all, spec, submit_load, wait_until
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

HEALTH_INTERVAL = 0.5
DATABASE_TIMEOUT = 1.0
BLACKHOLE = 8.0
SUBMIT_DEADLINE = 5.0
# How soon health must notice: a check starts within an interval and gives up after the
# database timeout; one more interval of slack for a loaded machine.
NOTICE_BOUND = 2 * HEALTH_INTERVAL + DATABASE_TIMEOUT
# An RPC sent once health said NOT_SERVING answers UNAVAILABLE at once (the store refuses
# without a query); the bound leaves room for a loaded machine, far from the deadline.
FAIL_FAST_BOUND = 1.0


async def test_blackhole_is_noticed_fails_fast_and_recovers(
    start_server: StartServer, database_url: str, ledger_dsn: str, ledger: Ledger
) -> None:
    """Proves: during an 8 s blackhole to the database, health turns NOT_SERVING within two
    health intervals plus the database timeout; RPCs sent after that answer UNAVAILABLE at
    once (not at their deadline); no RPC answers INTERNAL or UNKNOWN; when the network is
    back, health turns SERVING and stays so (recovery itself never flips it), Calls work
    again (LISTEN included), and nothing acknowledged is lost."""
    parts = urlsplit(database_url)
    proxy = await TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    through_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@{proxy.address}"))
    server = await start_server(
        database_url=through_proxy,
        handler_modules=["tests.faults.handlers"],
        executor=ExecutorConfig(concurrency=8, poll_interval=0.5, lease_seconds=3.0),
        maintenance=MaintenanceConfig(rescue_interval=0.5, reap_interval=0.5),
        health_interval=HEALTH_INTERVAL,
        database_timeout=DATABASE_TIMEOUT,
    )
    target = f"127.0.0.1:{server.port}"
    client = LedgerClient(ledger, target)
    health = HealthLog(target)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(health.poll(stop))]
    try:
        tasks += [
            asyncio.create_task(
                submit_load(client, ledger, stop, deadline=SUBMIT_DEADLINE, job_sleep=0.02, retry_every=0.1, most=10**6)
            )
            for _ in range(3)
        ]
        await asyncio.sleep(1.5)
        cut = time.time()
        proxy.blackhole()
        await wait_until(lambda: _seen(health, "NOT_SERVING", cut), timeout=15, what="NOT_SERVING")
        noticed = health.first("NOT_SERVING", cut)
        assert noticed is not None
        await asyncio.sleep(max(0.0, cut + BLACKHOLE - time.time()))
        restored = time.time()
        proxy.restore()
        ledger.fault("blackhole", cut, restored)
        await wait_until(lambda: _seen(health, "SERVING", restored), timeout=15, what="SERVING again")
        back = health.first("SERVING", restored)
        assert back is not None
        await asyncio.sleep(3.0)  # load goes on over the recovered link
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks[1:]), SUBMIT_DEADLINE * 3)  # each ends its last op
        after = await client.call(spec("fault_work", {"sleep": 0}, ledger.key("after")), timeout=15)
        assert after.code == "OK", after
        _report(ledger.ops, health, (cut, noticed, restored, back))
        counts = await check(ledger, ledger_dsn, ack_target=target, drain_timeout=40)
        assert counts.lost == 0
    finally:
        stop.set()
        await cancel_all(tasks)
        await client.close()
        await proxy.close()


def _report(ops: list[Op], health: HealthLog, moments: tuple[float, float, float, float]) -> None:
    cut, noticed, restored, back = moments
    codes = Counter(op.code for op in ops)
    # Sent once health said NOT_SERVING, answered before the network came back.
    refused = [op for op in ops if noticed <= op.start and op.end < restored]
    slowest = max((op.seconds for op in refused), default=0.0)
    print(
        f"[faults] blackhole {restored - cut:.1f}s: NOT_SERVING {noticed - cut:.2f}s after the cut, "
        f"SERVING {back - restored:.2f}s after the restore; {len(refused)} RPC(s) sent meanwhile, "
        f"slowest {slowest:.3f}s; op codes {dict(codes)}"
    )
    assert noticed - cut <= NOTICE_BOUND + HEALTH_INTERVAL, f"noticed after {noticed - cut:.2f}s"
    assert set(codes) <= {"OK", "UNAVAILABLE", "DEADLINE_EXCEEDED"}, dict(codes)
    assert refused, "no RPC was sent while NOT_SERVING"
    assert {op.code for op in refused} == {"UNAVAILABLE"}, Counter(op.code for op in refused)
    assert slowest <= FAIL_FAST_BOUND, f"an RPC sent while NOT_SERVING took {slowest:.2f}s"
    flips = [s for t, s in health.seen if t >= back and s != "SERVING"]
    assert not flips, f"health left SERVING after recovering: {flips}"
    during = [s for t, s in health.seen if noticed <= t < restored]
    assert set(during) == {"NOT_SERVING"}, Counter(during)


async def _seen(health: HealthLog, status: str, after: float) -> bool:
    return health.first(status, after) is not None
