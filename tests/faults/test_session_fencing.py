"""Worker sessions handed the next attempt of a job whose previous attempt they still run.

A fake worker drives the Work stream by hand (hello, then only what the test sends: no
heartbeats) and records everything the server sends, so the order of rescue, retry
and lease checks is fixed by the test rather than by timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

import asyncpg
import grpc
import pytest

from jobsvc.v1 import ack_service_pb2, ack_service_pb2_grpc, job_pb2
from tests.conftest import StartServer
from tests.faults.ledger import Ledger, LedgerClient
from tests.faults.scenario import spec, wait_until

pytestmark = pytest.mark.slow

HANDLER = "stuck_remote"
ATTEMPT_TIMEOUT = 2.0
# The session checks its leases every lease/3 = 5 s: the retry below is handed out before that.
SESSION_LEASE = 15.0
RESCUED = "SELECT count(*) FROM jobsvc_job_events WHERE job_id = $1::uuid AND kind = 'retrying'"
CURRENT_TOKEN = "SELECT attempt_token::text FROM jobsvc_jobs WHERE id = $1::uuid AND state = 'running'"

# Regression: sessions and workers once indexed attempts by job id only, so when a session
# was handed the next attempt of a job whose rescued attempt it still ran, the old attempt
# was never stopped, and a heartbeat naming the old token cancelled the new one.


class FakeWorker:
    """One Work stream: sends hello and what the test queues, records what the server sends."""

    def __init__(self, stub: ack_service_pb2_grpc.AckServiceAsyncStub) -> None:
        self.received: list[ack_service_pb2.WorkResponse] = []
        self.opened = time.monotonic()
        self._outbox: asyncio.Queue[ack_service_pb2.WorkRequest | None] = asyncio.Queue()
        self._call = stub.Work(self._requests())
        self._task = asyncio.create_task(self._receive(), name="fake-worker")

    async def _requests(self) -> AsyncIterator[ack_service_pb2.WorkRequest]:
        hello = ack_service_pb2.WorkerInfo(
            worker_id="fake", concurrency=4, handlers=[job_pb2.HandlerInfo(name=HANDLER, version="1.0.0")]
        )
        hello.lease_duration.FromSeconds(int(SESSION_LEASE))
        yield ack_service_pb2.WorkRequest(hello=hello)
        while (request := await self._outbox.get()) is not None:
            yield request

    async def _receive(self) -> None:
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.CancelledError):
            async for response in self._call:
                self.received.append(response)

    def send(self, request: ack_service_pb2.WorkRequest) -> None:
        """Queue one message for the server."""
        self._outbox.put_nowait(request)

    def tokens(self, kind: str, job_id: str) -> list[str]:
        """Attempt tokens of the assignments or cancels received for a job, in order."""
        found = [getattr(r, kind) for r in self.received if r.WhichOneof("kind") == kind]
        return [m.attempt_token for m in found if (m.job.id if kind == "assignment" else m.job_id) == job_id]

    async def close(self) -> None:
        """End the stream."""
        self._outbox.put_nowait(None)
        self._call.cancel()
        await self._task


def _stuck_job(key: str) -> job_pb2.JobSpec:
    job = spec(HANDLER, None, key)
    job.retry_policy.maximum_attempts = 2
    job.retry_policy.initial_interval.FromMilliseconds(100)
    job.attempt_timeout.FromSeconds(int(ATTEMPT_TIMEOUT))
    return job


@contextlib.contextmanager
def _deadline(seconds: float, what: str) -> Iterator[None]:
    """Assert the block ended within `seconds` (a precondition of the scenario's ordering)."""
    began = time.monotonic()
    yield
    assert time.monotonic() - began < seconds, f"precondition: {what} took over {seconds}s"


async def _retry_on_the_same_session(
    fake: FakeWorker, client: LedgerClient, ledger: Ledger, conn: asyncpg.Connection
) -> tuple[str, str, str]:
    """Run a job's first attempt past its timeout on the fake worker and get the retry
    handed to the same session before its lease check: (job id, old token, new token)."""
    op = await client.submit(_stuck_job(ledger.key("stuck")), timeout=10)
    [old] = await wait_until(lambda: _tokens(fake, "assignment", op.job_id), timeout=10, what="attempt 1")
    with _deadline(SESSION_LEASE / 3 - 0.5, "the rescue and the retry"):
        await wait_until(lambda: conn.fetchval(RESCUED, op.job_id), timeout=5, what="the rescue", every=0.05)
        await asyncio.sleep(0.3)  # the retry's backoff (0.1 s +-20%)
        # Any Submit wakes every claim loop (NOTIFY): the session claims the due retry now.
        await client.submit(spec(HANDLER, "wake", ledger.key("wake")), timeout=10)
        tokens = await wait_until(lambda: _tokens(fake, "assignment", op.job_id, 2), timeout=5, what="attempt 2")
    return op.job_id, old, tokens[1]


async def _tokens(fake: FakeWorker, kind: str, job_id: str, at_least: int = 1) -> list[str] | None:
    found = fake.tokens(kind, job_id)
    return found if len(found) >= at_least else None


@pytest.fixture
async def fake_worker(start_server: StartServer) -> AsyncIterator[tuple[FakeWorker, str]]:
    """A fake worker connected to an API-only replica, and the replica's address."""
    server = await start_server(handler_modules=[])
    target = f"127.0.0.1:{server.port}"
    async with grpc.aio.insecure_channel(target) as channel:
        fake = FakeWorker(ack_service_pb2_grpc.AckServiceStub(channel))
        await wait_until(lambda: _welcomed(fake), timeout=10, what="the welcome")
        try:
            yield fake, target
        finally:
            await fake.close()


async def _welcomed(fake: FakeWorker) -> bool:
    return any(r.WhichOneof("kind") == "welcome" for r in fake.received)


async def test_a_rescued_attempt_is_cancelled_on_the_worker_that_still_runs_it(
    fake_worker: tuple[FakeWorker, str], ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves (once fixed): when a worker's attempt is rescued (here: past its
    attempt_timeout) and the same session gets the job's next attempt, the server still
    tells the worker to stop the old attempt (Cancel with the old token) by its next lease
    check, so no hung execution outlives its lease beside the retry."""
    fake, target = fake_worker
    client = LedgerClient(ledger, target)
    conn = await asyncpg.connect(ledger_dsn)
    try:
        job_id, old, new = await _retry_on_the_same_session(fake, client, ledger, conn)
        await asyncio.sleep(max(0.0, fake.opened + SESSION_LEASE / 3 + 1.5 - time.monotonic()))
        cancelled = fake.tokens("cancel", job_id)
        print(f"[faults] attempt tokens {old[:8]} -> {new[:8]}; cancels received {[t[:8] for t in cancelled]}")
        assert old in cancelled, "the worker was never told to stop the rescued attempt"
    finally:
        await client.close()
        await conn.close()


async def test_a_heartbeat_with_a_stale_token_does_not_cancel_the_current_attempt(
    fake_worker: tuple[FakeWorker, str], ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves (once fixed): a heartbeat naming the old attempt's token (the worker still
    runs it) gets that attempt cancelled, and leaves the job's current attempt alone: no
    Cancel for the new token, and the new attempt still holds the job."""
    fake, target = fake_worker
    client = LedgerClient(ledger, target)
    conn = await asyncpg.connect(ledger_dsn)
    try:
        job_id, old, new = await _retry_on_the_same_session(fake, client, ledger, conn)
        stale = ack_service_pb2.LeaseRef(job_id=job_id, attempt_token=old)
        fake.send(ack_service_pb2.WorkRequest(heartbeat=ack_service_pb2.HeartbeatRequest(leases=[stale])))
        await asyncio.sleep(0.5)
        cancelled = fake.tokens("cancel", job_id)
        print(f"[faults] attempt tokens {old[:8]} -> {new[:8]}; cancels received {[t[:8] for t in cancelled]}")
        assert await conn.fetchval(CURRENT_TOKEN, job_id) == new
        assert new not in cancelled, "the current attempt was cancelled because of the old one's heartbeat"
    finally:
        await client.close()
        await conn.close()
