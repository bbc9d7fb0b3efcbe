"""Remote workers that die mid-job, and handlers that raise, hang or crash their process."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import grpc
import pytest

from jobsvc.v1 import ack_service_pb2_grpc
from tests.conftest import StartServer
from tests.faults.children import Child, Children
from tests.faults.invariants import replay_stale
from tests.faults.ledger import Ledger, LedgerClient, check
from tests.faults.records import Execution, Op
from tests.faults.scenario import cancel_all, executions_of, job_now, spec, wait_terminal, wait_until
from tests.faults.watchdog import Watchdog

pytestmark = pytest.mark.slow

LEASE = 2.0  # the shortest lease the server grants a worker
# In-process servers of the suite rescue every 0.5 s (+-20% jitter).
RESCUE_INTERVAL = 0.6
# Redelivery must not wait for a worker session's safety-net poll (RemoteWorkConfig.poll_interval, 30 s):
# a rescue wakes the claimers when the retry is due. Allowed slack for that wake-up:
CLAIM_POLL = 5.0


async def _replay_all(target: str, job_id: str, token: str) -> dict[str, str]:
    async with grpc.aio.insecure_channel(target) as channel:
        return await replay_stale(ack_service_pb2_grpc.AckServiceStub(channel), job_id, token)


async def _last_lease_end(conn: asyncpg.Connection, job_id: str, token: str, timeout: float) -> float:
    """Follow the lease of attempt `token` until it is gone (rescued); the last end seen."""
    last = 0.0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = await job_now(conn, job_id)
        if now.token != token:
            return last
        last = now.lease_end or last
        await asyncio.sleep(0.05)
    raise AssertionError(f"the lease of job {job_id} was not rescued within {timeout}s")


async def test_kill_9_of_a_worker_mid_job(
    start_server: StartServer, children: Children, ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves: a job whose remote worker is kill -9'd mid-job is redelivered only after its
    lease ran out (never before), succeeds on another worker, and the dead worker's late
    ack / nack / progress / heartbeat are refused (FAILED_PRECONDITION STALE_ATTEMPT) and
    change nothing, both while the new attempt runs and after it finished (L1-L7)."""
    server = await start_server(handler_modules=[])
    target = f"127.0.0.1:{server.port}"
    doomed = await children.worker(target, "doomed", lease=LEASE)
    client = LedgerClient(ledger, target)
    conn = await asyncpg.connect(ledger_dsn)
    try:
        async with Watchdog(ledger, ledger_dsn, tolerance=RESCUE_INTERVAL + 1.0):
            op = await client.submit(spec("fault_work", {"sleep": [60, 1.5]}, ledger.key("victim")), timeout=10)
            assert op.outcome == "ok", op
            await wait_until(lambda: executions_of(conn, op.job_id), timeout=10, what="the first execution")
            stale_token = (await job_now(conn, op.job_id)).token
            assert stale_token is not None
            await children.worker(target, "rescuer", lease=LEASE)
            killed_at = doomed.kill()
            ledger.fault("kill -9 worker", killed_at, target="doomed")
            lease_end = await _last_lease_end(conn, op.job_id, stale_token, timeout=LEASE + 5)

            async def second_started() -> list[Execution] | None:
                found = await executions_of(conn, op.job_id)
                return found if len(found) == 2 else None

            await wait_until(second_started, timeout=10, what="the redelivery")
            first, second = await executions_of(conn, op.job_id)
            assert (first.worker, first.end, second.worker) == ("doomed", None, "rescuer")
            assert second.start >= lease_end, "redelivered before the lease ran out"
            assert second.start >= killed_at + LEASE * 2 / 3 - 0.1, "redelivered before most of the lease passed"
            # Bounded by the claim poll too: see test_a_rescued_job_is_claimed_when_its_retry_is_due.
            assert second.start <= lease_end + RESCUE_INTERVAL + CLAIM_POLL + 1.5, "the redelivery took too long"
            await _assert_refused(target, conn, op.job_id, stale_token, ledger)  # while attempt 2 runs
            [done] = (await wait_terminal(conn, [op.job_id], timeout=15)).values()
            assert (done.state, done.attempt, done.error_types) == ("succeeded", 2, ["jobsvc.LeaseExpired"])
            await _assert_refused(target, conn, op.job_id, stale_token, ledger)  # after it succeeded
        counts = await check(ledger, ledger_dsn, ack_target=target)
        assert counts.re_executions == 1 and counts.lost == 0
        print(f"[faults] kill -9 at {killed_at:.2f}, lease ended {lease_end:.2f}, redelivered {second.start:.2f}")
    finally:
        await client.close()
        await conn.close()


RETRY_DUE = """
SELECT extract(epoch FROM (data ->> 'next_attempt_time')::timestamptz)::double precision
FROM jobsvc_job_events WHERE job_id = $1 AND kind = 'retrying'
"""
SECOND_CLAIM = """
SELECT extract(epoch FROM time)::double precision FROM jobsvc_job_events
WHERE job_id = $1 AND kind = 'started' AND (data ->> 'attempt')::integer = 2
"""


async def test_a_rescued_job_is_claimed_when_its_retry_is_due(
    start_server: StartServer, children: Children, ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves (once fixed): a job rescued from a dead worker is claimed again when its retry
    is due (its backoff) plus a second, as a nacked job is, by an idle worker that is waiting
    for work, not one claim-poll interval later."""
    server = await start_server(handler_modules=[])
    target = f"127.0.0.1:{server.port}"
    workers = {name: await children.worker(target, name, lease=LEASE) for name in ("left", "right")}
    client = LedgerClient(ledger, target)
    conn = await asyncpg.connect(ledger_dsn)
    try:
        op = await client.submit(spec("fault_work", {"sleep": [60, 0.1]}, ledger.key("rescued")), timeout=10)
        [first] = await wait_until(lambda: executions_of(conn, op.job_id), timeout=10, what="the first execution")
        ledger.fault("kill -9 worker", workers[first.worker].kill(), target=first.worker)
        await wait_terminal(conn, [op.job_id], timeout=LEASE + RESCUE_INTERVAL + CLAIM_POLL + 5)
        due, claimed = await conn.fetchval(RETRY_DUE, op.job_id), await conn.fetchval(SECOND_CLAIM, op.job_id)
        print(f"[faults] retry due {due:.2f}, claimed {claimed:.2f}: {claimed - due:.2f}s late")
        await check(ledger, ledger_dsn, ack_target=target)
        assert claimed <= due + 1.0, f"the rescued job was claimed {claimed - due:.1f}s after its retry was due"
    finally:
        await client.close()
        await conn.close()


async def _assert_refused(target: str, conn: asyncpg.Connection, job_id: str, token: str, ledger: Ledger) -> None:
    before = await job_now(conn, job_id)
    outcomes = await _replay_all(target, job_id, token)
    assert set(outcomes.values()) == {"refused"}, outcomes
    ledger.refused_stale_acks += len(outcomes)
    after = await job_now(conn, job_id)
    assert (after.state, after.token, after.last_seq) == (before.state, before.token, before.last_seq)


# -- poison jobs -------------------------------------------------------------------------

# handler: (attempts it must end after, the error type of every attempt)
POISON = {
    "fault_raise": (3, "ConnectionError"),
    "fault_reject": (1, "jobsvc.domain.errors.NonRetryableError"),
    "fault_hang": (2, "jobsvc.AttemptTimeout"),
    "fault_crash": (3, "jobsvc.LeaseExpired"),
}
MAX_CRASH_RESTARTS = 6


async def _keep_flowing(client: LedgerClient, ledger: Ledger, stop: asyncio.Event) -> list[Op]:
    """Healthy Calls one after another until stop is set."""
    ops: list[Op] = []
    while not stop.is_set() and len(ops) < 500:
        ops.append(await client.call(spec("fault_work", {"sleep": 0.05}, ledger.key("flow")), timeout=15))
    return ops


async def _restart_crashed(children: Children, target: str, ledger: Ledger, stop: asyncio.Event) -> int:
    """Start a crash-prone worker and start it again each time a handler kills it (bounded)."""
    restarts = 0
    worker: Child = await children.worker(target, "crasher-0", modules=["tests.faults.crashing"], lease=LEASE)
    while not stop.is_set():
        if not worker.running:
            ledger.fault("handler crashed its worker", time.time(), target=worker.name)
            restarts += 1
            assert restarts <= MAX_CRASH_RESTARTS, "the crashing job kept being delivered"
            worker = await children.worker(
                target, f"crasher-{restarts}", modules=["tests.faults.crashing"], lease=LEASE
            )
        await asyncio.sleep(0.05)
    return restarts


async def test_poison_jobs_end_failed_after_exactly_max_attempts(
    start_server: StartServer, children: Children, ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves: a handler that raises (retryable), raises NonRetryableError, hangs past its
    attempt_timeout, or crashes its remote worker process (os._exit) every time ends FAILED
    after exactly its max attempts (1 for non-retryable) with one error per attempt in its
    history and one ledger execution per attempt, while healthy jobs keep succeeding."""
    server = await start_server(handler_modules=["tests.faults.handlers"])
    target = f"127.0.0.1:{server.port}"
    client = LedgerClient(ledger, target)
    conn = await asyncpg.connect(ledger_dsn)
    stop = asyncio.Event()
    tasks: list[asyncio.Future[Any]] = []
    try:
        async with Watchdog(ledger, ledger_dsn, tolerance=RESCUE_INTERVAL + 1.0):
            restarter = asyncio.create_task(_restart_crashed(children, target, ledger, stop))
            tasks.append(restarter)
            await wait_until(lambda: _crash_handler_online(conn), timeout=20, what="the crash handler")
            flows = [asyncio.create_task(_keep_flowing(client, ledger, stop)) for _ in range(2)]
            tasks += flows
            poison = {name: await client.submit(spec(name, None, ledger.key(name)), timeout=10) for name in POISON}
            assert all(op.outcome == "ok" for op in poison.values()), poison
            try:
                ended = await wait_terminal(conn, [op.job_id for op in poison.values()], timeout=60)
            finally:
                stop.set()
                flow_ops = [op for ops in await asyncio.gather(*flows) for op in ops]
                restarts = await restarter
        for name, op in poison.items():
            await _assert_poisoned(conn, name, op.job_id, ended[op.job_id].state, ended[op.job_id].error_types)
        assert restarts == POISON["fault_crash"][0]
        assert len(flow_ops) >= 20 and {op.outcome for op in flow_ops} == {"ok"}
        assert {op.state for op in flow_ops} == {"succeeded"}
        slowest = max(op.seconds for op in flow_ops)
        assert slowest < 5.0, f"a healthy job waited {slowest:.1f}s behind the poison"
        print(f"[faults] {len(flow_ops)} healthy calls, slowest {slowest:.2f}s, {restarts} crash restarts")
        counts = await check(ledger, ledger_dsn, ack_target=target)
        assert counts.lost == 0
    finally:
        stop.set()
        await cancel_all(tasks)
        await client.close()
        await conn.close()


async def _crash_handler_online(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM jobsvc_handlers WHERE name = 'fault_crash'"))


async def _assert_poisoned(conn: asyncpg.Connection, name: str, job_id: str, state: str, errors: list[str]) -> None:
    attempts, error_type = POISON[name]
    executions = await executions_of(conn, job_id)
    assert (state, errors) == ("failed", [error_type] * attempts), (name, state, errors)
    assert [e.attempt for e in executions] == list(range(1, attempts + 1)), (name, executions)
