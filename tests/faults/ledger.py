"""The ledger method of RELIABILITY.md: what clients asked for, what handlers executed,
which faults were injected when, and a checker of the invariants L1-L7.

- Clients record every operation (`Ledger.record` through `LedgerClient`): start, end,
  outcome ok / failed / unknown, job id, idempotency key.
- Handlers record every execution in `fault_executions` (see handlers.py).
- Scenarios record fault windows (`Ledger.fault`): a re-execution is allowed only when
  an execution of that job overlapped one.
- `check` drains the queue (bounded), asserts L1-L7 where observable, prints and
  returns the counts.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Literal

import asyncpg
import grpc

from jobsvc.sdk import JOB_ID_METADATA, error_details
from jobsvc.v1 import call_service_pb2, call_service_pb2_grpc, job_pb2, submit_service_pb2, submit_service_pb2_grpc
from tests.faults.invariants import check_invariants, probe_stale_tokens
from tests.faults.records import Counts, DbView, Execution, Fault, JobRow, Op

# Codes that prove the operation did nothing; any other error leaves its outcome unknown.
DEFINITE_FAILURES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)


@dataclass
class Ledger:
    """Everything a scenario observed, in memory."""

    name: str
    ops: list[Op] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    # Attempt tokens seen while jobs ran (by the watchdog), probed when all are stale.
    tokens: set[tuple[str, str]] = field(default_factory=set)
    refused_stale_acks: int = 0
    # L7 violations seen while the scenario ran.
    stuck: list[str] = field(default_factory=list)

    def key(self, label: str = "") -> str:
        """A fresh idempotency key of this scenario."""
        return f"{self.name}-{label}-{uuid.uuid4().hex[:10]}"

    def record(self, op: Op) -> Op:
        """Keep an operation."""
        self.ops.append(op)
        return op

    def fault(self, kind: str, start: float, end: float | None = None, target: str | None = None) -> Fault:
        """Keep a fault window (end defaults to start: an instant, like kill -9)."""
        window = Fault(kind, start, start if end is None else end, target)
        self.faults.append(window)
        return window

    @property
    def keys(self) -> set[str]:
        """Every idempotency key a client sent."""
        return {op.key for op in self.ops}

    def accepted(self) -> dict[str, str]:
        """Job id -> idempotency key, for every job some operation got an id for
        (an OK answer, or a Call's job id metadata: sent only once the job is committed)."""
        return {op.job_id: op.key for op in self.ops if op.job_id}


class LedgerClient:
    """Submit and Call against one server, every operation recorded in the ledger."""

    def __init__(self, ledger: Ledger, target: str) -> None:
        self.ledger = ledger
        self.target = target
        self._channel = grpc.aio.insecure_channel(target)
        self._submit = submit_service_pb2_grpc.SubmitServiceStub(self._channel)
        self._call = call_service_pb2_grpc.CallServiceStub(self._channel)

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close(grace=None)

    async def submit(self, spec: job_pb2.JobSpec, *, timeout: float) -> Op:
        """Submit; the op says ok / failed / unknown."""
        op = self.ledger.record(Op("submit", spec.idempotency_key, self.target, time.time()))
        try:
            response = await self._submit.Submit(submit_service_pb2.SubmitRequest(job=spec), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            _failed(op, exc)
        else:
            op.outcome, op.code, op.job_id = "ok", "OK", response.job.id
        op.end = time.time()
        return op

    async def call(self, spec: job_pb2.JobSpec, *, timeout: float) -> Op:
        """Call (submit and wait); the op carries the job id as soon as the server sent it."""
        op = self.ledger.record(Op("call", spec.idempotency_key, self.target, time.time()))
        call = self._call.Call(call_service_pb2.CallRequest(job=spec), timeout=timeout)
        try:
            response = await call
        except grpc.aio.AioRpcError as exc:
            _failed(op, exc)
            op.job_id = _metadata_job_id(exc.initial_metadata())
        else:
            op.outcome, op.code, op.job_id = "ok", "OK", response.job.id
            op.state = job_pb2.JobState.Name(response.job.state).removeprefix("JOB_STATE_").lower()
        op.end = time.time()
        return op


def _failed(op: Op, exc: grpc.aio.AioRpcError) -> None:
    op.code = exc.code().name
    op.reason = error_details(exc).reason
    op.outcome = "failed" if exc.code() in DEFINITE_FAILURES else "unknown"


def _metadata_job_id(metadata: object) -> str:
    try:
        return str(dict(metadata or ()).get(JOB_ID_METADATA, ""))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ""


async def until_ok(
    clients: list[LedgerClient],
    kind: Literal["submit", "call"],
    spec: job_pb2.JobSpec,
    *,
    timeout: float,
    tries: int = 20,
    pause: float = 0.2,
) -> Op:
    """Retry an operation with the same idempotency key, round robin over the clients,
    until it is OK or definitely failed (bounded by `tries`); the last op."""
    op: Op | None = None
    for attempt in range(tries):
        client = clients[attempt % len(clients)]
        op = await (client.submit(spec, timeout=timeout) if kind == "submit" else client.call(spec, timeout=timeout))
        if op.outcome != "unknown":
            return op
        await asyncio.sleep(pause)
    assert op is not None
    return op


# -- the checker -----------------------------------------------------------------------

# Every job and event, in the live tables and the history (maintenance moves finished jobs
# there a minute after they end: a long scenario's early jobs are there when it checks).
LOAD_JOBS = """
SELECT id::text, state, attempt, max_attempts, idempotency_key, last_seq,
       extract(epoch FROM finished_at)::double precision AS finished_at,
       jsonb_array_length(attempt_errors) AS attempt_errors
FROM (SELECT NULL::timestamptz AS expires_at, * FROM jobsvc_jobs UNION ALL SELECT * FROM jobsvc_jobs_history) j
"""
LOAD_EVENTS = """
SELECT job_id::text, seq, kind
FROM (SELECT job_id, seq, kind FROM jobsvc_job_events
      UNION ALL
      SELECT job_id, seq, kind FROM jobsvc_job_events_history) e
ORDER BY job_id, seq
"""
LOAD_EXECUTIONS = """
SELECT job_id::text, handler, attempt, worker, pid, started_at, ended_at, outcome
FROM fault_executions ORDER BY started_at, id
"""
COUNT_UNFINISHED = "SELECT count(*) FROM jobsvc_jobs WHERE state IN ('queued', 'running')"


async def drain(conn: asyncpg.Connection, timeout: float) -> int:
    """Wait (at most `timeout` s) until no job is queued or running; how many still are."""
    deadline = time.monotonic() + timeout
    while True:
        left = int(await conn.fetchval(COUNT_UNFINISHED))
        if left == 0 or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.2)


async def load_view(conn: asyncpg.Connection) -> DbView:
    """Jobs, their event kinds and the executions, as the database has them now."""
    jobs = {r["id"]: JobRow(**dict(r)) for r in await conn.fetch(LOAD_JOBS)}
    events: dict[str, list[str]] = defaultdict(list)
    for row in await conn.fetch(LOAD_EVENTS):
        events[row["job_id"]].append(row["kind"])
    executions: dict[str, list[Execution]] = defaultdict(list)
    for row in await conn.fetch(LOAD_EXECUTIONS):
        executions[row["job_id"]].append(
            Execution(
                job_id=row["job_id"],
                handler=row["handler"],
                attempt=row["attempt"],
                worker=row["worker"],
                pid=row["pid"],
                start=row["started_at"],
                end=row["ended_at"],
                outcome=row["outcome"],
            )
        )
    return DbView(jobs, dict(events), dict(executions))


async def check(
    ledger: Ledger,
    dsn: str,
    *,
    ack_target: str | None = None,
    drain_timeout: float = 30.0,
    max_probes: int = 25,
) -> Counts:
    """Drain, then assert L1-L7 where observable; print and return the counts.

    With `ack_target` (a server address), attempt tokens seen while jobs ran are replayed
    against the AckService once every job is terminal: each must be refused (L5).
    """
    conn = await asyncpg.connect(dsn)
    try:
        left = await drain(conn, drain_timeout)
        view = await load_view(conn)
        found = check_invariants(ledger.accepted(), ledger.keys, ledger.ops, ledger.faults, view)
        if left:
            found.problems.append(f"L7: {left} job(s) still queued or running after a {drain_timeout:.0f}s drain")
        found.problems.extend(ledger.stuck)
        if ack_target is not None and ledger.tokens:
            problems, refused = await probe_stale_tokens(conn, ack_target, sorted(ledger.tokens)[:max_probes])
            found.problems.extend(problems)
            ledger.refused_stale_acks += refused
    finally:
        await conn.close()
    stats = found.stats
    counts = Counts(
        accepted=stats["accepted"],
        terminal=stats["terminal"],
        lost=stats["lost"],
        unexpected=stats["unexpected"],
        executions=stats["executions"],
        re_executions=stats["re_executions"],
        retries=stats["retries"],
        refused_stale_acks=ledger.refused_stale_acks,
        unknown_ops=sum(op.outcome == "unknown" for op in ledger.ops),
        faults=len(ledger.faults),
    )
    print(f"\n{counts.line(ledger.name)}", flush=True)
    print(f"[ledger] {ledger.name}: op codes {dict(Counter(op.code for op in ledger.ops))}", flush=True)
    assert not found.problems, f"{counts.line(ledger.name)}\n" + "\n".join(found.problems[:40])
    return counts
