"""Small helpers the scenarios share: job specs, bounded waits, reading jobs and
executions, a health poller."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jobsvc.sdk import job_spec
from jobsvc.v1 import job_pb2
from tests.faults.ledger import Ledger, LedgerClient
from tests.faults.records import TERMINAL, Execution, Op

T = TypeVar("T")

EXECUTIONS_OF = """
SELECT job_id::text, handler, attempt, worker, pid, started_at, ended_at, outcome
FROM fault_executions WHERE job_id = $1 ORDER BY started_at, id
"""
JOB = """
SELECT state, attempt, max_attempts, attempt_token::text AS token, last_seq,
       extract(epoch FROM lease_expires_at)::double precision AS lease_end, attempt_errors::text AS errors
FROM jobsvc_jobs WHERE id = $1
"""


@dataclass(frozen=True)
class JobNow:
    """A job's row as read at one moment."""

    state: str
    attempt: int
    max_attempts: int
    token: str | None
    last_seq: int
    lease_end: float | None
    error_types: list[str]


def spec(handler: str, value: Any, key: str) -> job_pb2.JobSpec:
    """A JobSpec with an idempotency key (every operation of the suite has one)."""
    return job_spec(handler, value, idempotency_key=key)


async def wait_until(probe: Callable[[], Awaitable[T | None]], *, timeout: float, what: str, every: float = 0.1) -> T:
    """Poll until probe() gives something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(every)


async def executions_of(conn: asyncpg.Connection, job_id: str) -> list[Execution]:
    """A job's executions in the handlers' ledger, by start."""
    return [
        Execution(
            job_id=r["job_id"],
            handler=r["handler"],
            attempt=r["attempt"],
            worker=r["worker"],
            pid=r["pid"],
            start=r["started_at"],
            end=r["ended_at"],
            outcome=r["outcome"],
        )
        for r in await conn.fetch(EXECUTIONS_OF, job_id)
    ]


async def runs_per_job(dsn: str, job_ids: Iterable[str]) -> dict[str, int]:
    """How many times each job was executed, by the handlers' ledger."""
    conn = await asyncpg.connect(dsn)
    try:
        return {job_id: len(await executions_of(conn, job_id)) for job_id in job_ids}
    finally:
        await conn.close()


async def job_now(conn: asyncpg.Connection, job_id: str) -> JobNow:
    """The job's row now."""
    row = await conn.fetchrow(JOB, job_id)
    assert row is not None, f"job {job_id} does not exist"
    errors = json.loads(row["errors"])
    return JobNow(
        state=row["state"],
        attempt=row["attempt"],
        max_attempts=row["max_attempts"],
        token=row["token"],
        last_seq=row["last_seq"],
        lease_end=row["lease_end"],
        error_types=[str(e.get("type")) for e in errors],
    )


async def wait_terminal(conn: asyncpg.Connection, job_ids: Iterable[str], *, timeout: float) -> dict[str, JobNow]:
    """Wait until every job is terminal; their rows."""
    ids = list(job_ids)

    async def all_terminal() -> dict[str, JobNow] | None:
        rows = {job_id: await job_now(conn, job_id) for job_id in ids}
        return rows if all(r.state in TERMINAL for r in rows.values()) else None

    return await wait_until(all_terminal, timeout=timeout, what=f"{len(ids)} job(s) to finish", every=0.2)


async def cancel_all(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel what is still running (a scenario that failed half-way) and wait for it."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


@dataclass
class HealthLog:
    """grpc.health.v1 Check of the whole server, polled: (epoch seconds, status or error code)."""

    target: str
    seen: list[tuple[float, str]] = field(default_factory=list)

    async def poll(self, stop: asyncio.Event) -> None:
        """Check every 0.2 s until stop is set."""
        async with grpc.aio.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while not stop.is_set():
                try:
                    response = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
                except grpc.aio.AioRpcError as exc:
                    status = exc.code().name
                self.seen.append((time.time(), status))
                await asyncio.sleep(0.2)

    def first(self, status: str, after: float) -> float | None:
        """When status was first seen after a moment."""
        return next((t for t, s in self.seen if s == status and t >= after), None)


async def submit_load(
    client: LedgerClient,
    ledger: Ledger,
    stop: asyncio.Event,
    *,
    deadline: float,
    job_sleep: float = 0.05,
    pause: float = 0.0,
    retry_every: float = 0.2,
    most: int = 2000,
) -> list[Op]:
    """Submit `fault_work` jobs one after another until stop (at most `most`), `pause`
    seconds apart; a key whose outcome is unknown is submitted again (up to 60 times), so
    each op returned is the last one of its key."""
    finals: list[Op] = []
    while not stop.is_set() and len(finals) < most:
        await asyncio.sleep(pause)
        job = spec("fault_work", {"sleep": job_sleep}, ledger.key("load"))
        for _ in range(60):
            op = await client.submit(job, timeout=deadline)
            if op.outcome != "unknown" or stop.is_set():
                break
            await asyncio.sleep(retry_every)
        finals.append(op)
    return finals
