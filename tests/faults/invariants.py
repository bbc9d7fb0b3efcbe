"""The invariants of RELIABILITY.md over a drained database and a client ledger.

Each check appends readable problems ("L4: ...") and returns what it counted; none
of them trusts jobsvc's own view alone: executions come from the handlers' table,
acknowledgements from the clients.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import asyncpg
import grpc
from google.protobuf.message import Message

from jobsvc.sdk import error_details
from jobsvc.v1 import ack_service_pb2, ack_service_pb2_grpc, job_pb2
from tests.faults.records import TERMINAL, DbView, Execution, Fault, Op

# Handler clocks and PostgreSQL's now() are the same machine's clock.
CLOCK_EPSILON = 0.001


@dataclass
class Findings:
    """Problems found and what was counted on the way."""

    problems: list[str] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)


def check_invariants(
    accepted: dict[str, str], keys: set[str], ops: Sequence[Op], faults: Sequence[Fault], view: DbView
) -> Findings:
    """L1, L2, L3, L4 and L6 over the view (L5 and L7 need the live system)."""
    found = Findings()
    no_loss(accepted, view, found)
    nothing_unexpected(keys, view, found)
    one_job_per_key(ops, view, found)
    bounded_re_execution(faults, view, found)
    terminal_is_final(ops, view, found)
    return found


def no_loss(accepted: dict[str, str], view: DbView, found: Findings) -> None:
    """L1: every job a client got an id for exists, under its key, in exactly one terminal state."""
    found.stats["accepted"] = len(accepted)
    for job_id, key in sorted(accepted.items()):
        job = view.jobs.get(job_id)
        if job is None:
            found.stats["lost"] += 1
            found.problems.append(f"L1: accepted job {job_id} (key {key}) does not exist")
        elif job.state not in TERMINAL:
            found.stats["lost"] += 1
            found.problems.append(f"L1: accepted job {job_id} (key {key}) is still {job.state}")
        else:
            found.stats["terminal"] += 1
        if job is not None and job.idempotency_key != key:
            found.problems.append(f"L1: job {job_id} came back for key {key} but has key {job.idempotency_key}")


def nothing_unexpected(keys: set[str], view: DbView, found: Findings) -> None:
    """L2: no job without a client's key, no execution of a job that does not exist."""
    for job in view.jobs.values():
        if job.idempotency_key not in keys:
            found.stats["unexpected"] += 1
            found.problems.append(f"L2: job {job.id} (key {job.idempotency_key}) was never asked for")
    for job_id, executions in view.executions.items():
        if job_id not in view.jobs:
            found.stats["unexpected"] += len(executions)
            found.problems.append(f"L2: {len(executions)} execution(s) of job {job_id}, which does not exist")


def one_job_per_key(ops: Sequence[Op], view: DbView, found: Findings) -> None:
    """L3: at most one job per idempotency key, whatever the outcomes the clients saw."""
    per_key = Counter(job.idempotency_key for job in view.jobs.values() if job.idempotency_key)
    for key, count in per_key.items():
        if count > 1:
            found.problems.append(f"L3: {count} jobs with idempotency key {key}")
    ids_per_key: dict[str, set[str]] = defaultdict(set)
    for op in ops:
        if op.job_id:
            ids_per_key[op.key].add(op.job_id)
    for key, ids in ids_per_key.items():
        if len(ids) > 1:
            found.problems.append(f"L3: key {key} answered with different jobs {sorted(ids)}")


def bounded_re_execution(faults: Sequence[Fault], view: DbView, found: Findings) -> None:
    """L4: attempts within the policy, no execution without a lease or after the end,
    never two live executions, and every re-execution inside a fault window."""
    for job in view.jobs.values():
        kinds = view.events.get(job.id, [])
        executions = view.executions.get(job.id, [])
        found.stats["executions"] += len(executions)
        deliveries = kinds.count("started") - kinds.count("requeued")
        if job.attempt > job.max_attempts or deliveries > job.max_attempts:
            found.problems.append(
                f"L4: job {job.id} had {job.attempt} attempts ({deliveries} deliveries), policy allows "
                f"{job.max_attempts}"
            )
        if len(executions) > kinds.count("started"):
            found.problems.append(
                f"L4: job {job.id} executed {len(executions)} times on {kinds.count('started')} lease(s)"
            )
        if job.finished_at is not None:
            late = [e for e in executions if e.start > job.finished_at + CLOCK_EPSILON]
            if late:
                found.problems.append(f"L4: job {job.id} executed again after it ended {job.state}: {late}")
        _pairs(job.id, executions, faults, found)


def _pairs(job_id: str, executions: Sequence[Execution], faults: Sequence[Fault], found: Findings) -> None:
    """Classify each execution after the first: a policy retry (the previous one failed by
    itself) or a re-execution, which needs the previous one to have overlapped a fault."""
    for before, after in pairwise(executions):
        covered = any(fault.covers(before) for fault in faults)
        still_running = before.end is None or before.end > after.start
        # A timed-out attempt was ended by the server at its deadline; a remote handler
        # learns it at the next heartbeat, so it may still run when the retry starts.
        if before.outcome == "timeout" or (before.failed_by_itself and not still_running):
            found.stats["retries"] += 1
            continue
        found.stats["re_executions"] += 1
        if not covered:
            what = "while the previous one was still running" if still_running else "outside any fault window"
            found.problems.append(f"L4: job {job_id} re-executed {what}: {_show(before)} then {_show(after)}")


def _show(execution: Execution) -> str:
    end = f"{execution.end:.3f}" if execution.end is not None else "never"
    return f"[attempt {execution.attempt} on {execution.worker} {execution.start:.3f}..{end} {execution.outcome}]"


def terminal_is_final(ops: Sequence[Op], view: DbView, found: Findings) -> None:
    """L6: exactly one terminal event, the last one, matching the state; and the state a
    Call returned is still the state now."""
    for job in view.jobs.values():
        kinds = view.events.get(job.id, [])
        terminal = [kind for kind in kinds if kind in TERMINAL]
        if job.state in TERMINAL:
            if terminal != [job.state] or kinds[-1] != job.state:
                found.problems.append(f"L6: job {job.id} is {job.state} with events {kinds}")
        elif terminal:
            found.problems.append(f"L6: job {job.id} is {job.state} after terminal events {terminal}")
    for op in ops:
        now = view.jobs.get(op.job_id)
        if op.state and now is not None and now.state != op.state:
            found.problems.append(f"L6: job {op.job_id} was returned {op.state} and is now {now.state}")


# -- L5: stale tokens are refused and change nothing ----------------------------------------

SNAPSHOT = "SELECT state, attempt, last_seq, result::text, error::text FROM jobsvc_jobs WHERE id = $1"


async def probe_stale_tokens(
    conn: asyncpg.Connection, target: str, tokens: Iterable[tuple[str, str]]
) -> tuple[list[str], int]:
    """Replay ack, nack, progress and heartbeat with tokens of finished jobs: each must be
    refused (FAILED_PRECONDITION STALE_ATTEMPT; a heartbeat reports the lease not held)
    and the job must not change. (problems, refusals)."""
    problems: list[str] = []
    refused = 0
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ack_service_pb2_grpc.AckServiceStub(channel)
        for job_id, token in tokens:
            before = await conn.fetchrow(SNAPSHOT, job_id)
            if before is None or before["state"] not in TERMINAL:
                continue  # only tokens that are certainly stale
            for name, outcome in (await replay_stale(stub, job_id, token)).items():
                if outcome == "refused":
                    refused += 1
                else:
                    problems.append(f"L5: {name} with the stale token of job {job_id}: {outcome}")
            if await conn.fetchrow(SNAPSHOT, job_id) != before:
                problems.append(f"L5: stale settlements changed job {job_id}")
    return problems, refused


async def replay_stale(stub: ack_service_pb2_grpc.AckServiceAsyncStub, job_id: str, token: str) -> dict[str, str]:
    """Each settlement's outcome: "refused" or what happened instead."""
    error = job_pb2.JobError(type="StaleWorker", message="a late settlement")
    progress = job_pb2.Progress(percent=50)
    settlements: dict[str, Callable[[], Awaitable[Message]]] = {
        "Ack": lambda: stub.Ack(ack_service_pb2.AckRequest(job_id=job_id, attempt_token=token), timeout=5),
        "Nack": lambda: stub.Nack(
            ack_service_pb2.NackRequest(job_id=job_id, attempt_token=token, error=error), timeout=5
        ),
        "ReportProgress": lambda: stub.ReportProgress(
            ack_service_pb2.ReportProgressRequest(job_id=job_id, attempt_token=token, progress=progress), timeout=5
        ),
    }
    outcomes: dict[str, str] = {}
    for name, send in settlements.items():
        try:
            await send()
            outcomes[name] = "accepted"
        except grpc.aio.AioRpcError as exc:
            details = error_details(exc)
            stale = details.code == grpc.StatusCode.FAILED_PRECONDITION and details.reason == "STALE_ATTEMPT"
            outcomes[name] = "refused" if stale else f"{details.code.name} {details.reason}"
    beat = await stub.Heartbeat(
        ack_service_pb2.HeartbeatRequest(
            worker_id="stale-probe", leases=[ack_service_pb2.LeaseRef(job_id=job_id, attempt_token=token)]
        ),
        timeout=5,
    )
    outcomes["Heartbeat"] = "refused" if [s.held for s in beat.leases] == [False] else f"held: {beat}"
    return outcomes
