"""Three `jobsvc serve` replicas behind HAProxy (deploy/haproxy/haproxy.cfg, run as is),
on loopback, sharing one database: calls through the balancer, a replica drained by
SIGTERM under load, and a rolling restart of all three, checked with the fault suite's
ledger (tests/faults/ledger.py, invariants L1-L7)."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import asyncpg
import pytest

from jobsvc.sdk import Client, payload_value
from jobsvc.v1 import job_pb2
from tests.faults.handlers import LEDGER_DSN_ENV, WORKER_ID_ENV, create_ledger_table
from tests.faults.ledger import Ledger, LedgerClient, check, until_ok
from tests.faults.records import Op
from tests.faults.scenario import cancel_all, spec
from tests.lb import HAPROXY, REPLICAS, HAProxy, ReplicaSet, server_name

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        HAPROXY is None, reason="haproxy is not installed (scripts/system-deps installs Debian's haproxy package)"
    ),
]

# Longer than haproxy needs to see NOT_SERVING (inter 1s, fall 2), as in production.
DRAIN_DELAY = 4.0
GRACE = 5.0


@pytest.fixture
async def ledger_dsn(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's database with the handlers' executions table."""
    conn = await asyncpg.connect(database_url)
    try:
        await create_ledger_table(conn)
    finally:
        await conn.close()
    monkeypatch.setenv(LEDGER_DSN_ENV, database_url)
    monkeypatch.delenv(WORKER_ID_ENV, raising=False)
    return database_url


@pytest.fixture
def ledger(request: pytest.FixtureRequest) -> Ledger:
    """An empty ledger named after the test."""
    return Ledger(request.node.name.removeprefix("test_")[:48])


@pytest.fixture
async def replicas(ledger_dsn: str) -> AsyncIterator[ReplicaSet]:
    """Replica slots on the test's database; every process is stopped afterwards."""
    started = ReplicaSet(ledger_dsn, drain_delay=DRAIN_DELAY, grace=GRACE)
    try:
        yield started
    finally:
        await asyncio.to_thread(started.stop_all)


@pytest.fixture
async def balancer(replicas: ReplicaSet, tmp_path: Path) -> AsyncIterator[HAProxy]:
    """HAProxy in front of the replica slots (started before the replicas are); always stopped."""
    proxy = HAProxy(tmp_path, replicas.addresses)
    try:
        await proxy.wait_ready()
        yield proxy
    finally:
        await asyncio.to_thread(proxy.stop)


async def _all_up(balancer: HAProxy) -> None:
    for slot in range(REPLICAS):
        await balancer.wait_status(server_name(slot), "UP")


async def test_submit_call_and_stream_through_haproxy(replicas: ReplicaSet, balancer: HAProxy, ledger: Ledger) -> None:
    """Proves: through HAProxy, Submit, Call and Stream work, and Calls are answered by
    replicas that run no handler while the one replica that does ran the job."""
    await asyncio.gather(replicas.start(0), replicas.start(1, handlers=False), replicas.start(2, handlers=False))
    await _all_up(balancer)
    async with Client(balancer.address) as client:
        submitted = await client.submit("fault_work", {"sleep": 0}, idempotency_key=ledger.key("s"), timeout=10)
        assert submitted.id
        streams_before = {name: int(row["stot"]) for name, row in balancer.servers().items()}
        calls = [
            await client.call("fault_work", {"sleep": 0.05}, idempotency_key=ledger.key("c"), timeout=30)
            for _ in range(6)
        ]
        streams_after = {name: int(row["stot"]) for name, row in balancer.servers().items()}
        events = [e async for e in client.stream(submit=spec("fault_work", {"sleep": 0.1}, ledger.key("st")))]
    assert {c.state for c in calls} == {job_pb2.JOB_STATE_SUCCEEDED}
    assert {payload_value(c.result)["worker"] for c in calls} == {"r0.0"}, "only replica 0 runs handlers"
    answered = {name: streams_after[name] - streams_before[name] for name in streams_after}
    print(f"[lb] Calls answered per replica (haproxy stot): {answered}")
    assert answered[server_name(1)] + answered[server_name(2)] >= 2, answered
    kinds = [e.WhichOneof("kind") for e in events]
    assert kinds[0] == "queued" and kinds[-1] == "succeeded", kinds
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    # option httplog: one line per call, with the replica that answered and its timers.
    logged = [line for line in _slow_requests(balancer, 0.0) if "/jobsvc.v1.CallService/Call " in line]
    assert len(logged) >= 6 and all(" jobsvc/jobsvc-" in line for line in logged), balancer.output()


class Load:
    """Idempotent clients through the balancer: each job is retried with its idempotency
    key until it is settled, one after another, until stopped. Paced so that the
    replicas keep up (an overloaded queue would make Calls wait past their deadline
    for reasons that have nothing to do with the balancer)."""

    SLEEPS = {"call": [0.02, 0.1, 0.3, 1.0], "submit": [0.02, 0.05, 0.1]}
    PAUSE = 0.05

    def __init__(self, ledger: Ledger, target: str, callers: int = 6) -> None:
        self.ledger = ledger
        self.client = LedgerClient(ledger, target)
        self._stop = asyncio.Event()
        self._rng = random.Random(5)
        kinds = ["call", "submit"] * callers
        self._tasks = [asyncio.create_task(self._run(kind)) for kind in kinds[:callers]]

    async def _run(self, kind: Literal["call", "submit"]) -> list[Op]:
        finals: list[Op] = []
        while not self._stop.is_set():
            job = spec("fault_work", {"sleep": self._rng.choice(self.SLEEPS[kind])}, self.ledger.key(kind))
            finals.append(await until_ok([self.client], kind, job, timeout=30, tries=50, pause=0.2))
            await asyncio.sleep(self.PAUSE)
        return finals

    async def finish(self) -> list[Op]:
        """Stop starting jobs; every caller's final operations."""
        self._stop.set()
        done = await asyncio.wait_for(asyncio.gather(*self._tasks), 120)
        return [op for ops in done for op in ops]

    async def close(self) -> None:
        """Cancel what still runs (a failed scenario) and close the channel."""
        await cancel_all(self._tasks)
        await self.client.close()


async def _drain_one(balancer: HAProxy, replicas: ReplicaSet, slot: int, ledger: Ledger) -> float:
    """SIGTERM a slot's replica; prove haproxy marks it DOWN from its health answer while
    it still runs (draining), then that it exits cleanly; how long it took."""
    victim = replicas.current[slot]
    signalled = victim.terminate()
    row = await balancer.wait_status(server_name(slot), "DOWN", timeout=DRAIN_DELAY + 5)
    marked_down = time.time()
    assert victim.running, f"{victim.name} exited before haproxy marked it DOWN: {row}"
    # The failed rule is the one that wants SERVING: the replica answered, NOT_SERVING.
    assert "status SERVING" in row["last_chk"], f"DOWN for another reason than NOT_SERVING: {row}"
    code = await asyncio.to_thread(victim.proc.wait, DRAIN_DELAY + GRACE + 15)
    exited = time.time()
    ledger.fault("SIGTERM replica", signalled, exited, target=victim.name)
    assert code == 0, victim.output()
    assert victim.saw("jobsvc stopped")
    print(
        f"[lb] {victim.name}: DOWN in haproxy {marked_down - signalled:.2f}s after SIGTERM,"
        f" exited after {exited - signalled:.2f}s"
    )
    return exited - signalled


def _slow_requests(balancer: HAProxy, seconds: float = 10.0) -> list[str]:
    """haproxy's log lines (option httplog) of requests that took longer, or did not end in 200."""
    found = []
    for line in balancer.lines:
        match = re.search(r" (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/(\d+) (\d{3}) ", line)
        if match and (int(match.group(5)) >= seconds * 1000 or match.group(6) != "200"):
            found.append(line)
    return found


def _assert_no_failed_calls(ledger: Ledger, finals: list[Op], balancer: HAProxy) -> None:
    for line in _slow_requests(balancer):
        print(f"[lb] haproxy: {line}")
    retried = Counter(op.code for op in ledger.ops if op.outcome != "ok")
    for op in ledger.ops:
        if op.outcome != "ok":
            print(f"[lb] retried: {op.kind} {op.code} {op.start:.2f}-{op.end:.2f} job {op.job_id or '?'}")
    for fault in ledger.faults:
        print(f"[lb] fault {fault.kind} {fault.target} {fault.start:.2f}-{fault.end:.2f}")
    print(
        f"[lb] {len(finals)} jobs settled; {sum(retried.values())} attempt(s) retried with their key:",
        dict(retried),
    )
    assert finals and {op.outcome for op in finals} == {"ok"}, Counter(op.code for op in finals)
    assert {op.state for op in finals if op.kind == "call"} == {"succeeded"}
    # What an idempotent client may have to retry: the replica was going away.
    assert set(retried) <= {"UNAVAILABLE"}, dict(retried)


async def test_sigterm_of_one_replica_under_load(
    replicas: ReplicaSet, balancer: HAProxy, ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves: SIGTERM of one replica under load: it turns NOT_SERVING, haproxy marks it
    DOWN while it still serves (its drain delay), it stops taking RPCs, finishes what it
    had and exits 0; idempotent clients see zero failed calls and the ledger shows
    nothing lost or duplicated (L1-L4, L6, L7)."""
    await asyncio.gather(*(replicas.start(slot) for slot in range(REPLICAS)))
    await _all_up(balancer)
    load = Load(ledger, balancer.address)
    try:
        await asyncio.sleep(2.0)
        await _drain_one(balancer, replicas, 1, ledger)
        await asyncio.sleep(2.0)  # the other two carry the load
        finals = await load.finish()
    finally:
        await load.close()
    _assert_no_failed_calls(ledger, finals, balancer)
    counts = await check(ledger, ledger_dsn, drain_timeout=30)
    assert counts.lost == 0 and counts.accepted >= len(finals)


async def test_rolling_restart_of_all_three_under_load(
    replicas: ReplicaSet, balancer: HAProxy, ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves: restarting the three replicas one after another under load (SIGTERM, wait
    for the exit, start again, wait until haproxy has it UP) loses nothing: zero failed
    calls for idempotent clients and the ledger invariants hold (L1-L4, L6, L7)."""
    await asyncio.gather(*(replicas.start(slot) for slot in range(REPLICAS)))
    await _all_up(balancer)
    load = Load(ledger, balancer.address)
    try:
        await asyncio.sleep(1.0)
        for slot in range(REPLICAS):
            await _drain_one(balancer, replicas, slot, ledger)
            await replicas.start(slot)
            await balancer.wait_status(server_name(slot), "UP")
        await asyncio.sleep(1.0)
        finals = await load.finish()
    finally:
        await load.close()
    _assert_no_failed_calls(ledger, finals, balancer)
    workers = Counter(row for row in await _workers(ledger_dsn))
    print(f"[lb] executions per replica incarnation: {dict(workers)}")
    assert {f"r{slot}.1" for slot in range(REPLICAS)} <= set(workers), "a restarted replica ran nothing"
    counts = await check(ledger, ledger_dsn, drain_timeout=30)
    assert counts.lost == 0


async def _workers(dsn: str) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["worker"] for r in await conn.fetch("SELECT worker FROM fault_executions")]
    finally:
        await conn.close()
