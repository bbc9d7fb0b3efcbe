"""A settled attempt is never cancelled, whatever ran beside its settlement.

Found by an outside client: under steady load, each of two workers received 2 to 9
`cancel` ("lease lost") per 10,000 jobs for attempts they had acked and that had
settled OK. The session's lease keeper had snapshotted the attempts it held, and an
ack settled one of them while the keeper's extension was in flight: the extension no
longer found it, and the keeper took it for lost. The same race stood between a
worker's heartbeat and its acks, between a cancellation and an ack, and, in the
in-process executor, between the heartbeat and the write of an outcome.

Each test makes its race happen every time: it holds the database call of one side
(by wrapping a PgStore method) until the other side has done what the race needs,
then checks what the worker was told.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
import pytest

from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.domain.jobs import JobState, Transition
from jobsvc.executor import ExecutorConfig
from jobsvc.server import JobsvcServer
from jobsvc.store.postgres import PgStore
from jobsvc.v1 import (
    ack_service_pb2,
    job_pb2,
    job_service_pb2,
    job_service_pb2_grpc,
    submit_service_pb2,
    submit_service_pb2_grpc,
)
from tests.conftest import StartServer
from tests.raw_worker import RawWorker

HANDLER = "race_echo"
TIMEOUT = 20.0
# The shortest lease a session grants (MIN_LEASE_SECONDS): its keeper runs every 0.67 s.
LEASE_SECONDS = 2
ROUNDS = 4
JOBS_PER_ROUND = 500


# Leases run out while a test holds the lease keeper (that is the race): no rescue then,
# or the held jobs would be rescued and retried under the test.
NO_RESCUE = MaintenanceConfig(rescue_interval=3600, reap_interval=3600)


@pytest.fixture
async def api_server(start_server: StartServer) -> JobsvcServer:
    """A replica with no in-process handlers: jobs go to the raw worker only."""
    return await start_server(handler_modules=[], maintenance=NO_RESCUE)


@pytest.fixture
async def channel(api_server: JobsvcServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{api_server.port}") as ch:
        yield ch


@pytest.fixture
async def raw_worker(channel: grpc.aio.Channel) -> AsyncIterator[RawWorker]:
    worker = RawWorker(channel, concurrency=1000, handler=HANDLER, lease_seconds=LEASE_SECONDS)
    try:
        await worker.until(lambda: bool(worker.of_kind("welcome")), "the welcome")
        yield worker
    finally:
        await worker.close()


async def _submit(channel: grpc.aio.Channel, count: int) -> list[str]:
    jobs = [job_pb2.JobSpec(handler=HANDLER, input=job_pb2.Payload()) for _ in range(count)]
    stub = submit_service_pb2_grpc.SubmitServiceStub(channel)
    response = await stub.SubmitBatch(submit_service_pb2.SubmitBatchRequest(jobs=jobs), timeout=TIMEOUT)
    return [job.id for job in response.jobs]


async def _assigned(worker: RawWorker, job_ids: Sequence[str]) -> list[ack_service_pb2.Assignment]:
    wanted = set(job_ids)

    def found() -> list[ack_service_pb2.Assignment]:
        return [a for a in worker.of_kind("assignment") if a.job.id in wanted]

    await worker.until(lambda: len(found()) == len(wanted), "the assignments")
    return found()


class Gate:
    """Holds a wrapped call until the test opens it; counts the calls."""

    def __init__(self) -> None:
        self.armed = False
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()
        self.calls = 0
        self.called = asyncio.Event()
        self.seen: list[Any] = []

    def arm(self) -> None:
        self.armed, self.calls = True, 0
        self.entered.clear()
        self.opened.clear()

    async def hold(self, seen: Any) -> None:
        """In the wrapped call: wait here once, when armed."""
        self.calls += 1
        self.called.set()
        if not self.armed:
            return
        self.armed = False
        self.seen.append(seen)
        self.entered.set()
        await asyncio.wait_for(self.opened.wait(), TIMEOUT)


def _from_the_lease_keeper() -> bool:
    """Whether the running task is a session's lease keeper (not its heartbeat handling)."""
    task = asyncio.current_task()
    return task is not None and task.get_name().startswith("jobsvc-work-lease-")


async def _next_call(gate: Gate, after: int) -> None:
    async with asyncio.timeout(TIMEOUT):
        while gate.calls <= after:
            gate.called.clear()
            await gate.called.wait()


async def test_the_lease_keeper_never_cancels_attempts_acked_during_its_extension(
    channel: grpc.aio.Channel, raw_worker: RawWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves: when acks settle attempts between the lease keeper's snapshot of what the
    session holds and the answer of its extension (which then no longer finds them),
    the worker is not sent `cancel` for any of them; over 2,000 jobs."""
    gate = Gate()
    extend = PgStore.job_lease_extend

    async def held_extension(self: PgStore, leases: Sequence[tuple[str, str]], seconds: float) -> Any:
        if _from_the_lease_keeper():
            await gate.hold(list(leases))
        return await extend(self, leases, seconds)

    monkeypatch.setattr(PgStore, "job_lease_extend", held_extension)
    acked: set[str] = set()
    for _ in range(ROUNDS):
        assignments = await _assigned(raw_worker, await _submit(channel, JOBS_PER_ROUND))
        gate.arm()
        await asyncio.wait_for(gate.entered.wait(), TIMEOUT)  # the keeper holds its snapshot
        assert {a.attempt_token for a in assignments} <= {token for _, token in gate.seen[-1]}
        for assignment in assignments:
            raw_worker.ack(assignment)
        tokens = {a.attempt_token for a in assignments}
        await raw_worker.until(lambda tokens=tokens: tokens <= raw_worker.settled_ok(), "the acks settled")
        acked |= tokens
        calls = gate.calls
        gate.opened.set()  # the extension runs now, and finds none of them
        await _next_call(gate, calls)  # the keeper has acted on its answer and come round again
        await raw_worker.barrier()
    lost = acked & raw_worker.cancelled_tokens()
    print(f"[races] {len(acked)} acked during the keeper's extension, {len(lost)} cancelled")
    assert not lost, f"{len(lost)} of {len(acked)} acked attempts were cancelled as lost"


async def test_the_lease_keeper_never_cancels_an_attempt_whose_ack_is_being_written(
    channel: grpc.aio.Channel, raw_worker: RawWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves: an attempt whose ack has committed but whose settlement has not returned
    yet when the keeper's extension answers (without it) is not cancelled either."""
    committed, keeper_done = asyncio.Event(), asyncio.Event()
    finish, extend = PgStore.job_finish, PgStore.job_lease_extend
    target: set[str] = set()

    async def slow_settlement(self: PgStore, job_id: str, token: str, state: JobState, *args: Any, **kw: Any) -> Any:
        change = await finish(self, job_id, token, state, *args, **kw)
        if token in target:
            committed.set()
            await asyncio.wait_for(keeper_done.wait(), TIMEOUT)  # the settlement is still in flight
        return change

    async def extension_after_the_commit(self: PgStore, leases: Sequence[tuple[str, str]], seconds: float) -> Any:
        if not any(token in target for _, token in leases):
            return await extend(self, leases, seconds)
        await asyncio.wait_for(committed.wait(), TIMEOUT)
        held = await extend(self, leases, seconds)
        # Set once the keeper has acted on this answer (it reaches its next sleep first).
        asyncio.get_running_loop().call_soon(keeper_done.set)
        return held

    monkeypatch.setattr(PgStore, "job_finish", slow_settlement)
    monkeypatch.setattr(PgStore, "job_lease_extend", extension_after_the_commit)
    tokens = []
    for _ in range(3):
        [assignment] = await _assigned(raw_worker, await _submit(channel, 1))
        committed.clear()
        keeper_done.clear()
        target.add(assignment.attempt_token)
        raw_worker.ack(assignment)
        await asyncio.wait_for(keeper_done.wait(), TIMEOUT)
        await raw_worker.until(lambda a=assignment: a.attempt_token in raw_worker.settled_ok(), "the ack settled")
        await raw_worker.barrier()
        tokens.append(assignment.attempt_token)
    assert not set(tokens) & raw_worker.cancelled_tokens(), "an attempt being settled was cancelled as lost"


async def test_a_heartbeat_naming_attempts_just_acked_does_not_cancel_them(
    channel: grpc.aio.Channel, raw_worker: RawWorker
) -> None:
    """Proves: a worker's heartbeat sent after its acks but listing the same attempts (it
    listed what it ran before it heard back) gets no `cancel` for them."""
    assignments = await _assigned(raw_worker, await _submit(channel, 200))
    for assignment in assignments:
        raw_worker.ack(assignment)
    leases = [ack_service_pb2.LeaseRef(job_id=a.job.id, attempt_token=a.attempt_token) for a in assignments]
    raw_worker.send(ack_service_pb2.WorkRequest(heartbeat=ack_service_pb2.HeartbeatRequest(leases=leases)))
    await raw_worker.barrier()
    tokens = {a.attempt_token for a in assignments}
    assert tokens <= raw_worker.settled_ok()
    lost = tokens & raw_worker.cancelled_tokens()
    assert not lost, f"{len(lost)} acked attempts were cancelled by the heartbeat that followed their acks"


async def test_a_cancel_request_that_loses_to_the_ack_sends_no_cancel(
    channel: grpc.aio.Channel, raw_worker: RawWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves: when a job is cancelled while its worker acks it, and the ack is written
    first, the job stays SUCCEEDED and the worker is not told to stop the attempt."""
    entered, acked, done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    finish = PgStore.job_finish

    async def cancel_after_the_ack(
        self: PgStore, job_id: str, token: str, state: JobState, *args: Any, **kw: Any
    ) -> Any:
        if state is not JobState.CANCELLED:
            return await finish(self, job_id, token, state, *args, **kw)
        entered.set()
        await asyncio.wait_for(acked.wait(), TIMEOUT)
        change = await finish(self, job_id, token, state, *args, **kw)
        asyncio.get_running_loop().call_soon(done.set)  # after the session acted on the answer
        return change

    monkeypatch.setattr(PgStore, "job_finish", cancel_after_the_ack)
    jobs = job_service_pb2_grpc.JobServiceStub(channel)
    [assignment] = await _assigned(raw_worker, await _submit(channel, 1))
    job_id, token = assignment.job.id, assignment.attempt_token
    await jobs.CancelJob(job_service_pb2.CancelJobRequest(id=job_id), timeout=TIMEOUT)
    await asyncio.wait_for(entered.wait(), TIMEOUT)  # the session is writing CANCELLED
    raw_worker.ack(assignment)
    await raw_worker.until(lambda: token in raw_worker.settled_ok(), "the ack settled")
    acked.set()
    await asyncio.wait_for(done.wait(), TIMEOUT)
    await raw_worker.barrier()
    job = (await jobs.GetJob(job_service_pb2.GetJobRequest(id=job_id), timeout=TIMEOUT)).job
    assert job.state == job_pb2.JOB_STATE_SUCCEEDED
    assert token not in raw_worker.cancelled_tokens(), "the worker was told to stop an attempt it had settled"


async def test_the_executor_never_stops_a_job_whose_outcome_is_being_written(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves: in the in-process executor, a heartbeat whose extension no longer finds a
    job (its outcome just committed) does not cancel the job's task in the middle of
    recording that outcome."""
    committed, extended = asyncio.Event(), asyncio.Event()
    interrupted: list[str] = []
    finish, extend = PgStore.job_finish, PgStore.job_lease_extend

    async def slow_record(
        self: PgStore, job_id: str, token: str, state: JobState, *args: Any, **kw: Any
    ) -> Transition | None:
        change = await finish(self, job_id, token, state, *args, **kw)
        if state is JobState.SUCCEEDED:
            committed.set()
            try:
                await asyncio.wait_for(extended.wait(), TIMEOUT)
            except asyncio.CancelledError:
                interrupted.append(job_id)
                raise
        return change

    async def extension_after_the_commit(self: PgStore, leases: Sequence[tuple[str, str]], seconds: float) -> Any:
        after = committed.is_set()  # the heartbeat took its list of jobs after the commit
        held = await extend(self, leases, seconds)
        if after and leases:
            asyncio.get_running_loop().call_soon(extended.set)  # once the loop acted on the answer
        return held

    monkeypatch.setattr(PgStore, "job_finish", slow_record)
    monkeypatch.setattr(PgStore, "job_lease_extend", extension_after_the_commit)
    # Heartbeats every 0.5 s: each job below waits for one after its outcome committed.
    server = await start_server(executor=ExecutorConfig(concurrency=2, poll_interval=1.0, lease_seconds=1.5))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        submit = submit_service_pb2_grpc.SubmitServiceStub(channel)
        jobs = job_service_pb2_grpc.JobServiceStub(channel)
        for value in range(3):
            committed.clear()
            extended.clear()
            spec = job_pb2.JobSpec(handler="echo", input=job_pb2.Payload())
            spec.input.json.number_value = value
            job_id = (await submit.Submit(submit_service_pb2.SubmitRequest(job=spec), timeout=TIMEOUT)).job.id
            await asyncio.wait_for(extended.wait(), TIMEOUT)
            await _until_succeeded(jobs, job_id)
    assert not interrupted, f"the outcome write of {len(interrupted)} job(s) was cancelled by the heartbeat"


async def _until_succeeded(jobs: job_service_pb2_grpc.JobServiceStub, job_id: str) -> None:
    async with asyncio.timeout(TIMEOUT):
        while True:
            job = (await jobs.GetJob(job_service_pb2.GetJobRequest(id=job_id), timeout=TIMEOUT)).job
            if job.state == job_pb2.JOB_STATE_SUCCEEDED:
                return
            await asyncio.sleep(0.05)
