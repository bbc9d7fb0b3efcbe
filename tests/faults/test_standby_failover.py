"""Failover to a streaming standby (issue 17, defect 2), with a real primary P and a real
hot standby S on loopback, and a multi-host database URL naming both.

Replication is synchronous (see _make_synchronous): an immediate stop of P can then lose
nothing P acknowledged, so a job lost here is jobsvc's doing, not replication lag's.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.executor import ExecutorConfig
from jobsvc.server import JobsvcServer, ServerConfig
from tests.faults.dedicated_pg import DATABASE, DedicatedPostgres, port_of, prepare_database
from tests.faults.handlers import LEDGER_DSN_ENV, WORKER_ID_ENV
from tests.faults.ledger import Ledger, LedgerClient, check, until_ok
from tests.faults.records import Op
from tests.faults.scenario import HealthLog, cancel_all, runs_per_job, spec, submit_load, wait_until
from tests.faults.watchdog import Watchdog

pytestmark = pytest.mark.slow

SUBMIT_DEADLINE = 3.0
CALL_DEADLINE = 10.0
# How long S stays a standby after P died (the failover tool's decision time).
UNPROMOTED = 3.0
# health_interval (0.5 s) plus a probe that P refuses at once and S fails as read-only.
NOT_SERVING_BOUND = 2.0
# Promotion to health SERVING: the next probes find S writable.
SERVING_BOUND = 5.0
# Between two jobs of one of the 4 loaders: under 100 jobs/s in all, below what the
# executor (8 slots, 50 ms jobs) runs.
LOAD_PAUSE = 0.04
# A Submit that fails must fail fast: well under its deadline.
FAIL_FAST = SUBMIT_DEADLINE / 2
# The crash-and-promote failover: a lease long enough (the default is 30 s) that the
# attempts running at the crash are still current when the standby is promoted.
FAILOVER_LEASE = 15.0
# Calls whose jobs run when the primary dies (they finish during the failover).
CALLS_IN_FLIGHT = 4
# Their Calls answer this soon after health SERVING: their kept outcomes are written on
# the new primary, no lease runs out and nothing runs twice.
ANSWER_BOUND = 3.0


@dataclass(frozen=True)
class Pair:
    """The database `faults` on a primary and on its standby."""

    primary: str
    standby: str

    def url(self, *, standby_first: bool = False, query: str = "") -> str:
        """A multi-host URL naming both servers (P first unless standby_first)."""
        ports = [port_of(self.primary), port_of(self.standby)]
        hosts = ",".join(f"127.0.0.1:{port}" for port in (ports[::-1] if standby_first else ports))
        return f"postgresql://postgres@{hosts}/{DATABASE}{query}"


async def _replicated_pair(pg: DedicatedPostgres) -> Pair:
    primary = await prepare_database(pg)
    standby = (await pg.start_standby()).rsplit("/", 1)[0] + f"/{DATABASE}"
    await _make_synchronous(pg.dsn)
    return Pair(primary, standby)


async def _make_synchronous(primary_dsn: str) -> None:
    """Commits on the primary wait until the standby has flushed them.

    Set on the primary only once the standby streams, and after the standby was cloned:
    a promoted standby with synchronous_standby_names set would wait for a standby of
    its own, forever.
    """
    conn = await asyncpg.connect(primary_dsn)

    async def replicas(sync_state: str) -> int:
        return int(await conn.fetchval("SELECT count(*) FROM pg_stat_replication WHERE sync_state = $1", sync_state))

    try:
        await wait_until(lambda: replicas("async"), timeout=30, what="the standby to stream")
        await conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        await conn.execute("SELECT pg_reload_conf()")
        await wait_until(lambda: replicas("sync"), timeout=30, what="the standby to be synchronous")
    finally:
        await conn.close()


async def _promote(standby_dsn: str) -> None:
    conn = await asyncpg.connect(standby_dsn, timeout=5)
    try:
        assert await conn.fetchval("SELECT pg_promote(true, 30)"), "the standby was not promoted"
    finally:
        await conn.close()


async def _jobsvc_sessions(dsn: str) -> Counter[str]:
    """jobsvc's connections to one server, by application_name (jobsvc, jobsvc-listen, ...)."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT application_name FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'jobsvc%'",
            DATABASE,
        )
    finally:
        await conn.close()
    return Counter(r["application_name"] for r in rows)


def _server(dsn: str, *, lease_seconds: float = 3.0) -> JobsvcServer:
    return JobsvcServer(
        ServerConfig(
            host="127.0.0.1",
            port=0,
            database_url=dsn,
            handler_modules=["tests.faults.handlers"],
            executor=ExecutorConfig(concurrency=8, poll_interval=1.0, lease_seconds=lease_seconds),
            maintenance=MaintenanceConfig(rescue_interval=0.5),
            health_interval=0.5,
            shutdown_grace=1.0,
        )
    )


def _start_load(
    client: LedgerClient, ledger: Ledger, health: HealthLog, stop: asyncio.Event
) -> tuple[asyncio.Task[None], list[asyncio.Task[list[Op]]]]:
    """Health polled, and 4 loaders submitting until stop."""
    watching = asyncio.create_task(health.poll(stop))
    loaders = [
        asyncio.create_task(submit_load(client, ledger, stop, deadline=SUBMIT_DEADLINE, pause=LOAD_PAUSE))
        for _ in range(4)
    ]
    return watching, loaders


def _seen(health: HealthLog, status: str, after: float) -> Callable[[], Awaitable[float | None]]:
    """A probe for wait_until: when health first showed status after a moment."""

    async def probe() -> float | None:
        return health.first(status, after)

    return probe


async def test_failover_to_standby_without_target_session_attrs(
    dedicated_pg: DedicatedPostgres, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves (issue 17, defect 2): with `postgresql://P,S/db` and no target_session_attrs,
    P crashing while S is not yet promoted turns health NOT_SERVING within
    NOT_SERVING_BOUND and Submits answer only UNAVAILABLE, fast (never INTERNAL or
    UNKNOWN: jobsvc never settles on the read-only S). Once S is promoted: health SERVING
    within SERVING_BOUND, Calls run, the LISTEN session is on S, and every acknowledged
    job ends terminal exactly once (L1-L7)."""
    pair = await _replicated_pair(dedicated_pg)
    url = pair.url()
    # The ledger's own connections (handlers, watchdog) must never read a standby's view.
    writable = pair.url(query="?target_session_attrs=read-write")
    monkeypatch.setenv(LEDGER_DSN_ENV, writable)
    monkeypatch.delenv(WORKER_ID_ENV, raising=False)
    server = _server(url)
    await server.start()
    target = f"127.0.0.1:{server.port}"
    client = LedgerClient(ledger, target)
    health = HealthLog(target)
    stop = asyncio.Event()
    tasks: list[asyncio.Future[Any]] = []
    try:
        async with Watchdog(ledger, writable, tolerance=2.0):
            watching, loaders = _start_load(client, ledger, health, stop)
            tasks += [watching, *loaders]
            await asyncio.sleep(2.0)
            assert await _jobsvc_sessions(pair.standby) == Counter(), "jobsvc connected to the standby"
            down = time.time()
            await dedicated_pg.stop_immediate()
            dead = time.time()  # P is gone for sure (a Submit begun before may have committed)
            went_down = await wait_until(
                _seen(health, "NOT_SERVING", down), timeout=NOT_SERVING_BOUND + 1, what="health NOT_SERVING"
            )
            await asyncio.sleep(max(0.0, down + UNPROMOTED - time.time()))
            promoting = time.time()
            await _promote(pair.standby)
            promoted = time.time()
            ledger.fault("primary down, standby not yet promoted", down, promoted)
            came_back = await wait_until(
                _seen(health, "SERVING", promoting), timeout=SERVING_BOUND + 5, what="health SERVING after promotion"
            )
            calls = [client.call(spec("fault_work", {}, ledger.key("after")), timeout=CALL_DEADLINE) for _ in range(5)]
            answered = await asyncio.gather(*calls)
            sessions = await wait_until(
                lambda: _listening(pair.standby), timeout=10, what="a LISTEN session on the promoted standby"
            )
            stop.set()
            finals = [op for ops in await asyncio.gather(*loaders) for op in ops]
            await watching
        print(f"[faults] jobsvc sessions on the promoted standby: {dict(sessions)}")
        _assert_only_unavailable_between(ledger, dead, promoting, "while S was not yet promoted")
        _assert_health(health, down, went_down, promoting, came_back)
        slowest_call = max(op.seconds for op in answered)
        print(f"[faults] Calls after promotion: {Counter(op.state for op in answered)}, slowest {slowest_call:.2f}s")
        assert {op.state for op in answered} == {"succeeded"}, answered
        assert {op.outcome for op in finals} == {"ok"}, Counter(op.code for op in finals)
        counts = await check(ledger, pair.standby, ack_target=target, drain_timeout=30)
        assert counts.lost == 0
    finally:
        stop.set()
        await cancel_all(tasks)
        await client.close()
        await server.stop(1.0)


async def test_failover_after_the_primary_is_killed(
    dedicated_pg: DedicatedPostgres, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves (issue 18): with `postgresql://P,S/db?target_session_attrs=read-write`,
    P's postmaster killed (SIGKILL) under Submit load while Calls run, and S promoted
    with `pg_ctl promote` UNPROMOTED s later: health NOT_SERVING within NOT_SERVING_BOUND,
    SERVING within SERVING_BOUND of the promotion, with no restart; Submits meanwhile
    answer UNAVAILABLE, fast; the running Calls' jobs, finished during the failover,
    ran once and their Calls answer SUCCEEDED within ANSWER_BOUND of SERVING (their
    outcomes kept, then written on S); the ledger finds nothing lost (L1-L7)."""
    pair = await _replicated_pair(dedicated_pg)
    url = pair.url(query="?target_session_attrs=read-write")
    monkeypatch.setenv(LEDGER_DSN_ENV, url)
    monkeypatch.delenv(WORKER_ID_ENV, raising=False)
    server = _server(url, lease_seconds=FAILOVER_LEASE)
    await server.start()
    target = f"127.0.0.1:{server.port}"
    client = LedgerClient(ledger, target)
    health = HealthLog(target)
    stop = asyncio.Event()
    tasks: list[asyncio.Future[Any]] = []

    async def call(key: str) -> Op:  # retried with its key while UNAVAILABLE, as clients do
        job = spec("fault_work", {"sleep": 1.0}, key)
        return await until_ok([client], "call", job, timeout=CALL_DEADLINE, tries=200, pause=0.1)

    try:
        async with Watchdog(ledger, url, tolerance=2.0):
            watching, loaders = _start_load(client, ledger, health, stop)
            tasks += [watching, *loaders]
            await asyncio.sleep(2.0)
            calls = [asyncio.create_task(call(ledger.key(f"inflight{i}"))) for i in range(CALLS_IN_FLIGHT)]
            tasks += calls
            await asyncio.sleep(0.5)  # the Calls' jobs run: they finish after the crash
            down = time.time()
            await dedicated_pg.kill()
            dead = time.time()
            went_down = await wait_until(
                _seen(health, "NOT_SERVING", down), timeout=NOT_SERVING_BOUND + 1, what="health NOT_SERVING"
            )
            await asyncio.sleep(max(0.0, down + UNPROMOTED - time.time()))
            promoting = time.time()
            await dedicated_pg.promote_standby()
            ledger.fault("primary killed, standby not yet promoted", down, time.time())
            came_back = await wait_until(
                _seen(health, "SERVING", promoting), timeout=SERVING_BOUND + 5, what="health SERVING after promotion"
            )
            answered = await asyncio.gather(*calls)
            await asyncio.sleep(1.0)  # Submits on the new primary
            stop.set()
            finals = [op for ops in await asyncio.gather(*loaders) for op in ops]
            await watching
        runs = await runs_per_job(pair.standby, [op.job_id for op in answered])
        latest = max(op.end for op in answered) - came_back
        print(f"[faults] in-flight Calls: {Counter(op.state for op in answered)}, the last {latest:.2f}s after SERVING")
        _assert_only_unavailable_between(ledger, dead, promoting, "while S was not yet promoted")
        _assert_health(health, down, went_down, promoting, came_back)
        assert {op.state for op in answered} == {"succeeded"}, answered
        assert set(runs.values()) == {1}, f"executions per job: {runs}"
        assert latest < ANSWER_BOUND
        assert {op.outcome for op in finals} == {"ok"}, Counter(op.code for op in finals)
        counts = await check(ledger, pair.standby, ack_target=target, drain_timeout=30)
        assert counts.lost == 0
    finally:
        stop.set()
        await cancel_all(tasks)
        await client.close()
        await server.stop(1.0)


async def _listening(dsn: str) -> Counter[str] | None:
    sessions = await _jobsvc_sessions(dsn)
    return sessions if sessions["jobsvc-listen"] else None


def _assert_only_unavailable_between(ledger: Ledger, start: float, end: float, what: str) -> None:
    """Operations begun and ended between start and end answered UNAVAILABLE, and every
    UNAVAILABLE was fast; no operation answered anything but OK or UNAVAILABLE."""
    codes = Counter(op.code for op in ledger.ops)
    inside = [op for op in ledger.ops if op.start >= start and op.end <= end]
    unavailable = [op.seconds for op in ledger.ops if op.code == "UNAVAILABLE"]
    reasons = Counter(op.reason for op in ledger.ops if op.code == "UNAVAILABLE")
    print(
        f"[faults] codes {dict(codes)}; {what}: {dict(Counter(op.code for op in inside))}; "
        f"UNAVAILABLE reasons {dict(reasons)}; UNAVAILABLE latency median "
        f"{statistics.median(unavailable) if unavailable else 0:.3f}s, max {max(unavailable, default=0):.3f}s"
    )
    assert set(codes) <= {"OK", "UNAVAILABLE"}, f"codes other than OK/UNAVAILABLE: {dict(codes)}"
    assert inside, f"no Submit ran {what}"
    assert {op.code for op in inside} == {"UNAVAILABLE"}, Counter(op.code for op in inside)
    assert max(unavailable) < FAIL_FAST, f"an UNAVAILABLE took {max(unavailable):.2f}s: not failing fast"


def _assert_health(health: HealthLog, down: float, went_down: float, promoting: float, came_back: float) -> None:
    before = [s for t, s in health.seen if t < down]
    # Until pg_promote() was called: S may be writable a little before the call returns.
    between = {s for t, s in health.seen if went_down <= t < promoting}
    print(
        f"[faults] health NOT_SERVING {went_down - down:.2f}s after P stopped; SERVING "
        f"{came_back - promoting:.2f}s after S's promotion began ({came_back - down:.2f}s after P stopped)"
    )
    assert before and before[-1] == "SERVING", before
    assert went_down - down <= NOT_SERVING_BOUND, health.seen
    assert between == {"NOT_SERVING"}, f"health while S was a standby: {between}"
    assert came_back - promoting <= SERVING_BOUND, health.seen


@pytest.mark.parametrize("query", ["", "?target_session_attrs=any"], ids=["default", "any"])
async def test_standby_listed_first_is_never_used(
    dedicated_pg: DedicatedPostgres, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    """Proves: with S listed before P, by default or with target_session_attrs=any (which
    lets a client settle on S), jobsvc starts and works on P only: health SERVING, Submit
    and Call OK, and no session of jobsvc on S (it needs a writable server whatever the
    URL allows)."""
    pair = await _replicated_pair(dedicated_pg)
    monkeypatch.setenv(LEDGER_DSN_ENV, pair.primary)
    monkeypatch.delenv(WORKER_ID_ENV, raising=False)
    server = _server(pair.url(standby_first=True, query=query))
    await server.start()
    target = f"127.0.0.1:{server.port}"
    client = LedgerClient(ledger, target)
    health = HealthLog(target)
    stop = asyncio.Event()
    watching = asyncio.create_task(health.poll(stop))
    try:
        submitted = [await client.submit(spec("fault_work", {}, ledger.key("submit")), timeout=SUBMIT_DEADLINE)]
        called = await client.call(spec("fault_work", {}, ledger.key("call")), timeout=CALL_DEADLINE)
        await asyncio.sleep(1.5)  # a few health checks
        on_standby, on_primary = await _jobsvc_sessions(pair.standby), await _jobsvc_sessions(pair.primary)
        stop.set()
        await watching
        print(f"[faults] jobsvc sessions: on S {dict(on_standby)}, on P {dict(on_primary)}")
        assert [op.code for op in [*submitted, called]] == ["OK", "OK"], ledger.ops
        assert called.state == "succeeded"
        assert {s for _, s in health.seen} == {"SERVING"}, health.seen
        assert on_standby == Counter()
        assert on_primary["jobsvc-listen"] == 1 and on_primary["jobsvc"] >= 1, on_primary
        await check(ledger, pair.primary, drain_timeout=10)
    finally:
        stop.set()
        await cancel_all([watching])
        await client.close()
        await server.stop(1.0)


async def _set_read_only(dsn: str, read_only: bool) -> None:
    """Fence (or unfence) a primary: default_transaction_read_only for every session,
    as a switchover does to the old primary before it promotes the new one."""
    conn = await asyncpg.connect(dsn, server_settings={"default_transaction_read_only": "off"})
    try:
        if read_only:
            await conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        else:
            await conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


async def test_primary_fenced_read_only(
    dedicated_pg: DedicatedPostgres, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Proves: a primary that turns read-only under open connections (fenced, while S is
    still a standby; URL `S,P?target_session_attrs=any`) is unavailable: health NOT_SERVING
    within NOT_SERVING_BOUND and logged as read-only; Submits answer UNAVAILABLE with
    reason DATABASE_READ_ONLY, fast, never INTERNAL. Unfenced: health SERVING, Calls run,
    and every acknowledged job ends terminal exactly once (L1-L7)."""
    pair = await _replicated_pair(dedicated_pg)
    monkeypatch.setenv(LEDGER_DSN_ENV, pair.primary)
    monkeypatch.delenv(WORKER_ID_ENV, raising=False)
    server = _server(pair.url(standby_first=True, query="?target_session_attrs=any"))
    await server.start()
    target = f"127.0.0.1:{server.port}"
    client = LedgerClient(ledger, target)
    health = HealthLog(target)
    stop = asyncio.Event()
    tasks: list[asyncio.Future[Any]] = []
    try:
        async with Watchdog(ledger, pair.primary, tolerance=2.0):
            watching, loaders = _start_load(client, ledger, health, stop)
            tasks += [watching, *loaders]
            await asyncio.sleep(2.0)
            fenced = time.time()
            await _set_read_only(pair.primary, True)
            went_down = await wait_until(
                _seen(health, "NOT_SERVING", fenced), timeout=NOT_SERVING_BOUND + 1, what="health NOT_SERVING"
            )
            await asyncio.sleep(max(0.0, fenced + UNPROMOTED - time.time()))
            unfencing = time.time()
            await _set_read_only(pair.primary, False)
            ledger.fault("primary read-only", fenced, time.time())
            came_back = await wait_until(
                _seen(health, "SERVING", unfencing), timeout=SERVING_BOUND + 5, what="health SERVING after unfencing"
            )
            calls = [client.call(spec("fault_work", {}, ledger.key("after")), timeout=CALL_DEADLINE) for _ in range(5)]
            answered = await asyncio.gather(*calls)
            stop.set()
            finals = [op for ops in await asyncio.gather(*loaders) for op in ops]
            await watching
        on_standby = await _jobsvc_sessions(pair.standby)
        print(
            f"[faults] health NOT_SERVING {went_down - fenced:.2f}s after the fence, SERVING "
            f"{came_back - unfencing:.2f}s after unfencing; jobsvc sessions on S {dict(on_standby)}"
        )
        # From the health check that saw the fence on, no request reaches the database.
        _assert_only_unavailable_between(ledger, went_down, unfencing, "while P was fenced")
        fenced_answers = [op for op in ledger.ops if op.code == "UNAVAILABLE" and fenced <= op.start < unfencing]
        assert {op.reason for op in fenced_answers} == {"DATABASE_READ_ONLY"}, Counter(
            op.reason for op in fenced_answers
        )
        assert any("read-only" in r.getMessage() for r in caplog.records if "health NOT_SERVING" in r.getMessage())
        assert {s for t, s in health.seen if went_down <= t < unfencing} == {"NOT_SERVING"}, health.seen
        assert on_standby == Counter()
        assert {op.state for op in answered} == {"succeeded"}, answered
        assert {op.outcome for op in finals} == {"ok"}, Counter(op.code for op in finals)
        counts = await check(ledger, pair.primary, ack_target=target, drain_timeout=30)
        assert counts.lost == 0
    finally:
        stop.set()
        await cancel_all(tasks)
        await client.close()
        await server.stop(1.0)
