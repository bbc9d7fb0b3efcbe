"""Every background task (claim, heartbeat, maintenance, schedules, LISTEN) survives every
kind of error the database or a bug can raise: it logs, backs off and carries on, and a
task that cannot recover turns health NOT_SERVING. RPCs meanwhile answer UNAVAILABLE or
ABORTED, never INTERNAL.

Faults are real where PostgreSQL can make them on demand (an operator's pg_cancel_backend
of queries waiting on a lock) and injected at the driver boundary otherwise (asyncpg's
Connection raising the very exception classes PostgreSQL would send, so that the store's
own error translation runs as in production).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import pytest

from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.executor import ExecutorConfig
from jobsvc.server import JobsvcServer
from jobsvc.store.sql import query
from tests.conftest import StartServer
from tests.faults.ledger import Ledger, LedgerClient, check
from tests.faults.scenario import HealthLog, cancel_all, spec, submit_load, wait_until

pytestmark = pytest.mark.slow

TASKS = ("claim", "heartbeat", "maintenance", "schedules", "listen")
# The queries each task runs first (both claim forms: limited when a served version has flow control).
TASK_QUERIES = {
    "claim": ("job_claim", "job_claim_limited"),
    "heartbeat": ("handler_touch_many", "job_lease_extend"),
    "maintenance": ("job_rescue_expired",),
    "schedules": ("schedule_next_tick",),
}

ERRORS: dict[str, Callable[[], BaseException]] = {
    "statement cancelled": lambda: asyncpg.QueryCanceledError("canceling statement due to user request"),
    "statement timeout": lambda: asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    "serialization failure": lambda: asyncpg.SerializationError("could not serialize access"),
    "deadlock": lambda: asyncpg.DeadlockDetectedError("deadlock detected"),
    "read-only standby": lambda: asyncpg.ReadOnlySQLTransactionError(
        "cannot execute UPDATE in a read-only transaction"
    ),
    "a bug": lambda: RuntimeError("a bug in a background task"),
}


class DriverFaults:
    """Makes asyncpg connections raise chosen errors for chosen named queries (or for
    LISTEN), a set number of times each, then behave again."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, error: Callable[[], BaseException]) -> None:
        self._error = error
        self.left: dict[str, int] = {}
        self._by_sql: dict[str, str] = {}
        for method in ("fetch", "fetchrow", "fetchval", "execute"):
            monkeypatch.setattr(asyncpg.connection.Connection, method, self._faulty(method))
        original_listen = asyncpg.connection.Connection.add_listener

        async def add_listener(conn: asyncpg.Connection, channel: str, callback: Any) -> None:
            self._maybe_raise("LISTEN")
            await original_listen(conn, channel, callback)

        monkeypatch.setattr(asyncpg.connection.Connection, "add_listener", add_listener)

    def arm(self, name: str, times: int) -> None:
        """The named query (or "LISTEN") fails its next `times` runs."""
        self.left[name] = times
        if name != "LISTEN":
            self._by_sql[query(name)] = name

    def _maybe_raise(self, name: str | None) -> None:
        if name is not None and self.left.get(name, 0) > 0:
            self.left[name] -= 1
            raise self._error()

    def _faulty(self, method: str) -> Any:
        original = getattr(asyncpg.connection.Connection, method)

        async def faulty(conn: asyncpg.Connection, sql: str, *args: Any, **kwargs: Any) -> Any:
            self._maybe_raise(self._by_sql.get(sql))
            return await original(conn, sql, *args, **kwargs)

        return faulty


@pytest.fixture
def driver_faults(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], BaseException]], DriverFaults]:
    """Installs DriverFaults raising a given error (undone after the test)."""
    return lambda error: DriverFaults(monkeypatch, error)


@pytest.fixture
def quiet_errors(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The supervisor's log lines, captured."""
    with caplog.at_level(logging.WARNING, logger="jobsvc.supervisor"):
        yield caplog


def _server_options(**more: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "handler_modules": ["tests.faults.handlers"],
        "executor": ExecutorConfig(concurrency=8, poll_interval=0.5, lease_seconds=3.0),
        "maintenance": MaintenanceConfig(rescue_interval=0.5, reap_interval=0.5),
        "health_interval": 0.3,
    }
    options.update(more)
    return options


def _recovered(server: JobsvcServer) -> Callable[[], Any]:
    async def probe() -> bool:
        states = [server.supervisor.state(name) for name in TASKS]
        return all(s is not None and s.total_failures > 0 and s.failures == 0 for s in states)

    return probe


async def _terminate_listener(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        ended = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'jobsvc-listen' AND datname = current_database()"
        )
        assert ended == 1, f"expected one LISTEN session, ended {ended}"
    finally:
        await conn.close()


@pytest.mark.parametrize("error", list(ERRORS), ids=list(ERRORS))
async def test_every_background_task_survives_every_kind_of_error(
    error: str,
    *,
    start_server: StartServer,
    ledger_dsn: str,
    ledger: Ledger,
    driver_faults: Callable[[Callable[[], BaseException]], DriverFaults],
    quiet_errors: pytest.LogCaptureFixture,
) -> None:
    """Proves: when each background task's queries raise `error` (the LISTEN session is cut
    and its next LISTENs fail too), every task logs it, retries and recovers by itself, and
    a job submitted meanwhile runs to success; nothing is lost."""
    faults = driver_faults(ERRORS[error])
    for name in ("job_claim", "job_claim_limited", "handler_touch_many", "job_rescue_expired", "schedule_next_tick"):
        faults.arm(name, 2)
    faults.arm("job_lease_extend", 1)  # more and the running job's 3 s lease would run out
    server = await start_server(**_server_options())
    target = f"127.0.0.1:{server.port}"
    client = LedgerClient(ledger, target)
    try:
        # A job running while the heartbeat's lease extension fails.
        long_job = asyncio.create_task(client.call(spec("fault_work", {"sleep": 2.5}, ledger.key("long")), timeout=30))
        await _terminate_listener(ledger_dsn)
        faults.arm("LISTEN", 2)
        await wait_until(_recovered(server), timeout=20, what="every task failing, then recovered")
        quick = await client.call(spec("fault_work", {"sleep": 0}, ledger.key("quick")), timeout=15)
        long = await long_job
        assert (quick.code, long.code) == ("OK", "OK"), (quick, long)
        logged = quiet_errors.text
        for name in TASKS:
            assert f"{name} failed" in logged, f"no log line for {name}:\n{logged}"
        counts = await check(ledger, ledger_dsn, drain_timeout=20)
        assert counts.lost == 0
    finally:
        await client.close()


async def test_a_task_that_cannot_recover_turns_health_not_serving(
    start_server: StartServer,
    ledger_dsn: str,
    ledger: Ledger,
    driver_faults: Callable[[Callable[[], BaseException]], DriverFaults],
    quiet_errors: pytest.LogCaptureFixture,
) -> None:
    """Proves: a claim that fails on every try is not a silent stop: after the bound
    (task_unhealthy_after) health turns NOT_SERVING and the log says which task and why;
    once the fault ends the task recovers, health is SERVING again and jobs run."""
    server = await start_server(**_server_options(task_unhealthy_after=1.0))
    target = f"127.0.0.1:{server.port}"
    health = HealthLog(target)
    stop = asyncio.Event()
    watching = asyncio.create_task(health.poll(stop))
    client = LedgerClient(ledger, target)
    try:
        await wait_until(lambda: _seen(health, "SERVING"), timeout=10, what="SERVING")
        faults = driver_faults(lambda: RuntimeError("the claim is broken"))
        faults.arm("job_claim", 10**6)
        faults.arm("job_claim_limited", 10**6)
        broke = time.time()
        pending = asyncio.create_task(client.call(spec("fault_work", {"sleep": 0}, ledger.key("held")), timeout=30))
        await wait_until(lambda: _seen(health, "NOT_SERVING", broke), timeout=10, what="NOT_SERVING")
        went_down = health.first("NOT_SERVING", broke)
        assert went_down is not None
        assert "claim failing" in quiet_errors.text or "claim failed" in quiet_errors.text
        assert any("NOT_SERVING" in r.message and "claim" in r.message for r in _server_log(quiet_errors)), (
            "the log must say why health is NOT_SERVING"
        )
        fixed = time.time()
        faults.arm("job_claim", 0)
        faults.arm("job_claim_limited", 0)
        await wait_until(lambda: _seen(health, "SERVING", fixed), timeout=10, what="SERVING again")
        held = await pending
        assert held.code == "OK", held
        print(f"[faults] NOT_SERVING {went_down - broke:.2f}s after the claim broke (bound 1.0s + a health interval)")
    finally:
        stop.set()
        await cancel_all([watching])
        await client.close()


def _server_log(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "jobsvc.server"]


async def _seen(health: HealthLog, status: str, after: float = 0.0) -> bool:
    return health.first(status, after) is not None


LOCK_WAITERS = """
SELECT pid, query FROM pg_stat_activity
WHERE wait_event_type = 'Lock' AND application_name LIKE 'jobsvc%' AND datname = current_database()
"""


JOBSVC_SESSIONS = """
SELECT application_name, state, wait_event_type, wait_event, left(query, 60) AS query FROM pg_stat_activity
WHERE application_name LIKE 'jobsvc%' AND datname = current_database()
"""


async def _cancel_while_locked(conn: asyncpg.Connection) -> list[str]:
    """Hold jobsvc_jobs locked until a claim waits on it, then cancel every jobsvc query
    waiting (an operator with pg_cancel_backend); the cancelled queries."""
    async with conn.transaction():
        await conn.execute("LOCK TABLE jobsvc_jobs IN ACCESS EXCLUSIVE MODE")

        async def claim_waiting() -> bool:
            return any("SKIP LOCKED" in r["query"] for r in await conn.fetch(LOCK_WAITERS))

        try:
            await wait_until(claim_waiting, timeout=10, what="a claim waiting on the lock")
        except AssertionError as exc:
            sessions = await conn.fetch(JOBSVC_SESSIONS)
            raise AssertionError(f"{exc}; jobsvc sessions: {[dict(r) for r in sessions]}") from None
        await asyncio.sleep(0.5)  # the other tasks and the Submits pile up behind it too
        waiting = await conn.fetch(LOCK_WAITERS)
        for row in waiting:
            await conn.execute("SELECT pg_cancel_backend($1)", row["pid"])
    return [r["query"] for r in waiting]


async def test_an_operator_cancelling_jobsvc_queries_stops_nothing(
    start_server: StartServer, ledger_dsn: str, ledger: Ledger
) -> None:
    """Proves (the issue's scenario): a session holds jobsvc_jobs locked and an operator
    cancels the queries waiting on it, the claim among them, three times over under
    submit load. Submits caught in it answer UNAVAILABLE (never INTERNAL); jobs keep
    running afterwards, health is SERVING, stop is clean, and nothing is lost."""
    # Slots to spare: jobs whose outcome waits on the lock must not leave the claim idle.
    executor = ExecutorConfig(concurrency=64, poll_interval=0.5, lease_seconds=3.0)
    server = await start_server(**_server_options(executor=executor))
    target = f"127.0.0.1:{server.port}"
    client = LedgerClient(ledger, target)
    stop = asyncio.Event()
    loaders = [
        asyncio.create_task(submit_load(client, ledger, stop, deadline=10, job_sleep=0.02, retry_every=0.1, most=10**6))
        for _ in range(3)
    ]
    cancelled: list[str] = []
    try:
        await asyncio.sleep(1.0)
        conn = await asyncpg.connect(ledger_dsn)
        try:
            for _ in range(3):
                began = time.time()
                cancelled += await _cancel_while_locked(conn)
                ledger.fault("operator cancels", began, time.time())
                await asyncio.sleep(1.0)
        finally:
            await conn.close()
        stop.set()
        finals = [op for ops in await asyncio.gather(*loaders) for op in ops]
        after = await client.call(spec("fault_work", {"sleep": 0}, ledger.key("after")), timeout=15)
        assert after.code == "OK", after
        codes = Counter(op.code for op in ledger.ops)
        print(f"[faults] cancelled {len(cancelled)} waiting queries; op codes {dict(codes)}")
        assert sum("SKIP LOCKED" in q for q in cancelled) >= 3, "every round must cancel a claim"
        assert set(codes) <= {"OK", "UNAVAILABLE", "ABORTED"}, dict(codes)
        assert {op.outcome for op in finals} == {"ok"}
        claim = server.supervisor.state("claim")
        assert claim is not None and claim.total_failures >= 3 and claim.failures == 0
        counts = await check(ledger, ledger_dsn, ack_target=target, drain_timeout=20)
        assert counts.lost == 0
    finally:
        stop.set()
        await cancel_all(loaders)
        await client.close()
    await server.stop(1.0)  # clean: no traceback, no exception (the issue saw exit 1 here)
