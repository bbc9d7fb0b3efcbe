"""Payloads at and past every size limit, on every path in and out (RELIABILITY.md).

A job whose input or result could not come back in a response must not be accepted as
it is: an input over --max-payload-bytes is refused at submit, a result or partial
output over it fails the attempt (non-retryably), wherever the handler runs. Every
response about a job then fits in one message; and a job stored before the limits,
too large to send, is answered RESOURCE_EXHAUSTED with an ErrorInfo, never grpc's own
"Sent message larger than max" (no details, and an ERROR traceback in the log).

The servers here have a 256 KiB message limit (payload limit 112 KiB), so that the
payloads stay small.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import asyncpg
import grpc
import pytest

from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.domain.jobs import Payload
from jobsvc.domain.limits import PayloadLimits, payload_size
from jobsvc.sdk import Client, RemoteWorker, error_details, job_spec
from jobsvc.server import ConnectionConfig, JobsvcServer
from jobsvc.v1 import ack_service_pb2, ack_service_pb2_grpc, job_pb2, job_service_pb2
from tests import handlers as test_handlers
from tests.conftest import StartServer
from tests.faults.children import Children
from tests.faults.ledger import Ledger, LedgerClient, check
from tests.faults.scenario import spec

LIMIT = 256 * 1024
LIMITS = PayloadLimits(LIMIT)
PAYLOAD = LIMITS.payload
BASIC = job_service_pb2.JOB_VIEW_BASIC
FAILED = job_pb2.JOB_STATE_FAILED
SUCCEEDED = job_pb2.JOB_STATE_SUCCEEDED
# A JSON string of this many characters is a payload of exactly PAYLOAD bytes.
AT_LIMIT = next(n for n in range(PAYLOAD, PAYLOAD - 16, -1) if payload_size(Payload(json="x" * n)) == PAYLOAD)
OVER = PAYLOAD + 100
REMOTE = "remote_sized"


async def _server(start_server: StartServer, **overrides: Any) -> tuple[JobsvcServer, str]:
    server = await start_server(connection=ConnectionConfig(max_message_bytes=LIMIT), **overrides)
    return server, f"127.0.0.1:{server.port}"


@contextlib.asynccontextmanager
async def _client(target: str) -> AsyncIterator[Client]:
    async with Client(target) as client:
        yield client


async def _refused(call: Awaitable[Any]) -> Any:
    """The error details of a call that must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call
    return error_details(failed.value)


async def _events(client: Client, job_id: str) -> list[job_pb2.JobEvent]:
    return [event async for event in client.stream(job_id)]


async def _every_read_answers(client: Client, job: job_pb2.Job) -> list[str]:
    """GetJob (both views), ListJobs and Stream of a finished job all answer OK; its event kinds."""
    full = await client.get(job.id, timeout=10)
    assert (full.state, full.error.type) == (job.state, job.error.type)
    assert (await client.get(job.id, view=BASIC, timeout=10)).state == job.state
    assert (await client.list_jobs(handler=job.handler, timeout=10)).jobs  # FULL: pages by bytes
    listed = await client.list_jobs(handler=job.handler, view=BASIC, timeout=10)
    assert job.id in [j.id for j in listed.jobs]
    kinds = [str(event.WhichOneof("kind")) for event in await asyncio.wait_for(_events(client, job.id), 10)]
    assert kinds[-1] == job_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
    return kinds


def _failed_with(job: job_pb2.Job, error_type: str) -> None:
    assert (job.state, job.error.type, job.error.non_retryable) == (FAILED, error_type, True), job.error
    assert job.attempt == 1 and [e.type for e in job.attempt_errors] == [error_type]
    assert f"over the limit of {PAYLOAD} bytes" in job.error.message and "--max-payload-bytes" in job.error.message


async def test_a_result_over_the_limit_fails_its_attempt_and_every_read_path_answers(
    start_server: StartServer,
) -> None:
    """Proves: a handler (in-process executor) returning a result over the payload limit does
    not leave a SUCCEEDED job nobody can read: its one attempt fails, non-retryably, with
    jobsvc.ResultTooLarge naming the limit and the size; Call, GetJob, ListJobs and Stream
    answer OK. An echo whose input and result are both exactly at the limit succeeds, and
    its Call (carrying both) fits."""
    _, target = await _server(start_server)
    async with _client(target) as client:
        job = await client.call("sized", {"bytes": OVER}, timeout=30)
        _failed_with(job, "jobsvc.ResultTooLarge")
        assert f"the result is {payload_size(Payload(json='r' * OVER))} bytes" in job.error.message
        assert "started" in await _every_read_answers(client, job)

        echoed = await client.call("echo", "x" * AT_LIMIT, timeout=30)
        assert echoed.state == SUCCEEDED and len(echoed.result.json.string_value) == AT_LIMIT
        assert echoed.ByteSize() <= LIMIT
        await _every_read_answers(client, echoed)


async def test_an_input_over_the_limit_is_refused_naming_the_field_before_anything_is_stored(
    start_server: StartServer, database_url: str
) -> None:
    """Proves: Submit, SubmitBatch, Call and Stream refuse an input over the payload limit with
    RESOURCE_EXHAUSTED, reason PAYLOAD_TOO_LARGE, naming the field, the limit and the size;
    no job is stored (a batch stays all-or-none)."""
    _, target = await _server(start_server)
    big = "x" * (AT_LIMIT + 1)
    async with _client(target) as client:
        submitted = await _refused(client.submit("echo", big, timeout=10))
        assert (submitted.code, submitted.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "PAYLOAD_TOO_LARGE")
        assert submitted.metadata == {"field": "job.input", "limit": str(PAYLOAD), "size": str(PAYLOAD + 1)}
        assert f"limit of {PAYLOAD} bytes" in submitted.message and "--max-payload-bytes" in submitted.message
        batch = await _refused(client.submit_batch([job_spec("echo", 1), job_spec("echo", big)], timeout=10))
        assert (batch.reason, batch.metadata["field"]) == ("PAYLOAD_TOO_LARGE", "jobs[1].input")
        called = await _refused(client.call("echo", big, timeout=10))
        assert (called.reason, called.metadata["field"]) == ("PAYLOAD_TOO_LARGE", "job.input")
        streamed = await _refused(_events_of_submit(client, big))
        assert (streamed.reason, streamed.metadata["field"]) == ("PAYLOAD_TOO_LARGE", "submit.input")
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM jobsvc_jobs") == 0
    finally:
        await conn.close()


async def _events_of_submit(client: Client, value: Any) -> list[job_pb2.JobEvent]:
    return [event async for event in client.stream(submit=job_spec("echo", value))]


async def test_a_partial_output_over_the_limit_fails_the_attempt(start_server: StartServer) -> None:
    """Proves: a partial output over the payload limit (from an async handler, a blocking
    generator, or a handler that swallows the exception and returns) fails the attempt with
    jobsvc.PartialOutputTooLarge; nothing of it is stored, and Stream answers every event."""
    _, target = await _server(start_server)
    test_handlers.SWALLOWED.clear()
    async with _client(target) as client:
        for handler in ("sized", "sized_blocking", "sized_swallowing"):
            job = await client.call(handler, {"partial": OVER}, timeout=30)
            _failed_with(job, "jobsvc.PartialOutputTooLarge")
            kinds = await _every_read_answers(client, job)
            assert "partial_output" not in kinds, (handler, kinds)
    assert test_handlers.SWALLOWED == ["PayloadTooLarge"]


def _worker_info(handler: str = REMOTE) -> ack_service_pb2.WorkerInfo:
    return ack_service_pb2.WorkerInfo(
        worker_id="sized-worker", concurrency=4, handlers=[job_pb2.HandlerInfo(name=handler, version="1.0.0")]
    )


async def _lease_one(stub: ack_service_pb2_grpc.AckServiceAsyncStub) -> ack_service_pb2.Assignment:
    leased = await stub.Lease(ack_service_pb2.LeaseRequest(worker=_worker_info(), max_jobs=1), timeout=10)
    [assignment] = leased.assignments
    return assignment


async def test_a_remote_worker_acking_over_the_limit_fails_its_attempt(start_server: StartServer) -> None:
    """Proves: through the unary worker API, an Ack whose result is over the payload limit
    (but under the message limit) fails the attempt non-retryably (jobsvc.ResultTooLarge) and
    is answered RESOURCE_EXHAUSTED, reason RESULT_TOO_LARGE, saying the job FAILED; a partial
    output over it likewise (PARTIAL_OUTPUT_TOO_LARGE), after which the worker's Ack is stale.
    GetJob, ListJobs and Stream of both jobs answer OK."""
    _, target = await _server(start_server, handler_modules=[])
    async with _client(target) as client, grpc.aio.insecure_channel(target) as channel:
        stub = ack_service_pb2_grpc.AckServiceStub(channel)
        await stub.Lease(ack_service_pb2.LeaseRequest(worker=_worker_info(), max_jobs=1), timeout=10)  # registers
        acked = await client.submit(REMOTE, {"n": 1}, timeout=10)
        assignment = await _lease_one(stub)
        result = job_pb2.Payload()
        result.json.string_value = "r" * OVER
        ack = ack_service_pb2.AckRequest(job_id=acked.id, attempt_token=assignment.attempt_token, result=result)
        refused = await _refused(stub.Ack(ack, timeout=10))
        assert (refused.code, refused.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RESULT_TOO_LARGE")
        assert refused.metadata["state"] == "failed" and refused.metadata["limit"] == str(PAYLOAD)
        _failed_with(await client.get(acked.id, timeout=10), "jobsvc.ResultTooLarge")
        await _every_read_answers(client, await client.get(acked.id, timeout=10))

        reported = await client.submit(REMOTE, {"n": 2}, timeout=10)
        assignment = await _lease_one(stub)
        progress = ack_service_pb2.ReportProgressRequest(
            job_id=reported.id, attempt_token=assignment.attempt_token, partial_output=result
        )
        refused = await _refused(stub.ReportProgress(progress, timeout=10))
        assert (refused.code, refused.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "PARTIAL_OUTPUT_TOO_LARGE")
        late = ack_service_pb2.AckRequest(job_id=reported.id, attempt_token=assignment.attempt_token)
        assert (await _refused(stub.Ack(late, timeout=10))).reason == "STALE_ATTEMPT"
        job = await client.get(reported.id, timeout=10)
        _failed_with(job, "jobsvc.PartialOutputTooLarge")
        assert "partial_output" not in await _every_read_answers(client, job)


class _StreamWorker:
    """A worker in another language on the Work stream: hello, then what the test sends."""

    def __init__(self, stub: ack_service_pb2_grpc.AckServiceAsyncStub) -> None:
        self.received: asyncio.Queue[ack_service_pb2.WorkResponse] = asyncio.Queue()
        self._outbox: asyncio.Queue[ack_service_pb2.WorkRequest | None] = asyncio.Queue()
        self._call = stub.Work(self._requests(), timeout=60)
        self._task = asyncio.create_task(self._receive(), name="stream-worker")

    async def _requests(self) -> AsyncIterator[ack_service_pb2.WorkRequest]:
        yield ack_service_pb2.WorkRequest(hello=_worker_info())
        while (request := await self._outbox.get()) is not None:
            yield request

    async def _receive(self) -> None:
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.CancelledError):
            async for response in self._call:
                await self.received.put(response)

    def send(self, request: ack_service_pb2.WorkRequest) -> None:
        self._outbox.put_nowait(request)

    async def next(self, kind: str) -> Any:
        """The next message of this kind (others are skipped), within 10 s."""
        while True:
            response = await asyncio.wait_for(self.received.get(), 10)
            if response.WhichOneof("kind") == kind:
                return getattr(response, kind)

    async def close(self) -> None:
        self._outbox.put_nowait(None)
        self._call.cancel()
        await self._task


async def test_an_oversized_ack_or_partial_output_on_a_work_stream_fails_the_attempt(
    start_server: StartServer,
) -> None:
    """Proves: on the Work stream, the welcome tells the payload limit; an ack over it is
    settled RESOURCE_EXHAUSTED (RESULT_TOO_LARGE) and the job FAILED with jobsvc.ResultTooLarge;
    a partial output over it is settled PARTIAL_OUTPUT_TOO_LARGE, the worker is told to stop
    the attempt (Cancel), and the session carries on assigning."""
    _, target = await _server(start_server, handler_modules=[])
    big = job_pb2.Payload()
    big.json.string_value = "r" * OVER
    async with _client(target) as client, grpc.aio.insecure_channel(target) as channel:
        worker = _StreamWorker(ack_service_pb2_grpc.AckServiceStub(channel))
        try:
            assert (await worker.next("welcome")).max_payload_bytes == PAYLOAD
            first = await client.submit(REMOTE, 1, timeout=10)
            assignment = await worker.next("assignment")
            ack = ack_service_pb2.AckRequest(job_id=first.id, attempt_token=assignment.attempt_token, result=big)
            worker.send(ack_service_pb2.WorkRequest(ack=ack))
            settled = await worker.next("settled")
            assert (settled.job_id, settled.code, settled.reason) == (first.id, 8, "RESULT_TOO_LARGE")
            _failed_with(await client.get(first.id, timeout=10), "jobsvc.ResultTooLarge")

            second = await client.submit(REMOTE, 2, timeout=10)
            assignment = await worker.next("assignment")
            progress = ack_service_pb2.ReportProgressRequest(
                job_id=second.id, attempt_token=assignment.attempt_token, partial_output=big
            )
            worker.send(ack_service_pb2.WorkRequest(progress=progress))
            settled = await worker.next("settled")
            assert (settled.job_id, settled.code, settled.reason) == (second.id, 8, "PARTIAL_OUTPUT_TOO_LARGE")
            assert (await worker.next("cancel")).attempt_token == assignment.attempt_token
            _failed_with(await client.get(second.id, timeout=10), "jobsvc.PartialOutputTooLarge")

            third = await client.submit(REMOTE, 3, timeout=10)
            assert (await worker.next("assignment")).job.id == third.id
        finally:
            await worker.close()


async def test_a_python_worker_fails_an_oversized_result_itself(start_server: StartServer) -> None:
    """Proves: `jobsvc worker` (RemoteWorker) learns the payload limit from the welcome and
    fails an attempt whose result or partial output is over it as the in-process executor
    does (jobsvc.ResultTooLarge / PartialOutputTooLarge, non-retryable), instead of sending
    an ack that could never be stored, or one over the message limit that is refused."""
    _, target = await _server(start_server, handler_modules=[])
    worker = RemoteWorker(target, HandlerTable(load_module("tests.handlers").handlers))
    running = asyncio.create_task(worker.run(), name="python-worker")
    try:
        await asyncio.wait_for(worker.connected.wait(), 10)
        async with _client(target) as client:
            # Over the message limit too: an ack of it would be refused unread.
            job = await client.call("sized", {"bytes": LIMIT + 1000}, timeout=30)
            _failed_with(job, "jobsvc.ResultTooLarge")
            job = await client.call("sized", {"partial": OVER}, timeout=30)
            _failed_with(job, "jobsvc.PartialOutputTooLarge")
            assert (await client.call("sized", {"bytes": 10}, timeout=30)).state == SUCCEEDED
    finally:
        worker.stop()
        await asyncio.wait_for(running, 15)


async def test_list_jobs_pages_by_bytes_and_every_page_is_under_the_limit(start_server: StartServer) -> None:
    """Proves: ListJobs over jobs that are each about half a response (an input and a result
    of 56 KiB, 112 KiB with both, with a 256 KiB limit) ends each FULL page before it would go over
    the limit, and the page tokens go on from there: every job once, newest first, every
    page under the limit. The BASIC view lists them all on one page, without payloads."""
    _, target = await _server(start_server)
    async with _client(target) as client:
        ids = [(await client.call("echo", f"{i}" * (PAYLOAD // 2), timeout=30)).id for i in range(7)]
        listed: list[str] = []
        pages = 0
        token = ""
        while True:
            page = await client.list_jobs(handler="echo", page_size=100, page_token=token, timeout=10)
            pages += 1
            assert 0 < len(page.jobs) < 7 and page.ByteSize() <= LIMIT, (len(page.jobs), page.ByteSize())
            listed += [job.id for job in page.jobs]
            token = page.next_page_token
            if not token:
                break
        assert listed == ids[::-1] and pages >= 3, (pages, listed)
        basic = await client.list_jobs(handler="echo", view=BASIC, timeout=10)
        assert [job.id for job in basic.jobs] == ids[::-1] and not basic.next_page_token
        assert not any(job.HasField("input") or job.HasField("result") for job in basic.jobs)
        print(f"[faults] 7 jobs of {PAYLOAD} bytes each: {pages} FULL pages, 1 BASIC page of {basic.ByteSize()} bytes")


async def test_a_lease_hands_out_what_fits_and_the_rest_to_later_leases(start_server: StartServer) -> None:
    """Proves: a Lease of up to 5 jobs whose inputs are each near the payload limit answers
    only the assignments that fit in one response; the others go back to the queue, without
    using an attempt, and later Leases hand them out: each job exactly once, at attempt 1."""
    _, target = await _server(start_server, handler_modules=[])
    async with _client(target) as client, grpc.aio.insecure_channel(target) as channel:
        stub = ack_service_pb2_grpc.AckServiceStub(channel)
        await stub.Lease(ack_service_pb2.LeaseRequest(worker=_worker_info(), max_jobs=1), timeout=10)  # registers
        submitted = {(await client.submit(REMOTE, "x" * (AT_LIMIT - 100), timeout=10)).id for _ in range(5)}
        delivered: list[str] = []
        sizes = []
        for _ in range(10):
            leased = await stub.Lease(ack_service_pb2.LeaseRequest(worker=_worker_info(), max_jobs=5), timeout=10)
            sizes.append((len(leased.assignments), leased.ByteSize()))
            assert leased.ByteSize() <= LIMIT
            for assignment in leased.assignments:
                assert assignment.job.attempt == 1
                delivered.append(assignment.job.id)
                ack = ack_service_pb2.AckRequest(job_id=assignment.job.id, attempt_token=assignment.attempt_token)
                await stub.Ack(ack, timeout=10)
            if len(delivered) == len(submitted):
                break
        assert sorted(delivered) == sorted(submitted), sizes
        assert max(n for n, _ in sizes) < 5, sizes
        print(f"[faults] leases of 5 large jobs: (assignments, bytes) {sizes}")


async def test_a_job_stored_before_the_limits_gets_a_clean_resource_exhausted(
    start_server: StartServer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Proves: a job whose stored result (or input) is larger than any response, as the
    limits now forbid but an older release stored (written here directly into its row), is
    answered on every path with RESOURCE_EXHAUSTED, ErrorInfo reason RESPONSE_TOO_LARGE naming
    the limit, and no ERROR in the log: GetJob, ListJobs, Stream, a repeated Call, CancelJob
    and RedriveJob (whose message says the request was carried out); its BASIC view answers.
    A legacy queued job too large to assign fails (jobsvc.InputTooLarge) instead of ending
    the worker's Lease with grpc's error."""
    _, target = await _server(start_server, handler_modules=["tests.handlers"])
    huge = "x" * (LIMIT + 10_000)
    conn = await asyncpg.connect(database_url)
    caplog.set_level(logging.WARNING)
    try:
        async with _client(target) as client, grpc.aio.insecure_channel(target) as channel:
            done = await client.call("echo", "small", idempotency_key="legacy", timeout=30)
            await conn.execute("UPDATE jobsvc_jobs SET result = to_jsonb($2::text) WHERE id = $1", done.id, huge)
            await conn.execute(
                "UPDATE jobsvc_job_events SET payload = to_jsonb($2::text) WHERE job_id = $1 AND kind = 'succeeded'",
                done.id,
                huge,
            )
            answers = {
                "GetJob": await _refused(client.get(done.id, timeout=10)),
                "ListJobs": await _refused(client.list_jobs(timeout=10)),
                "Stream": await _refused(_events(client, done.id)),
                "Call": await _refused(client.call("echo", "small", idempotency_key="legacy", timeout=10)),
            }
            for method, refused in answers.items():
                assert (refused.code, refused.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RESPONSE_TOO_LARGE")
                assert refused.metadata["limit"] == str(LIMIT), (method, refused)
                assert "--max-message-bytes" in refused.message, (method, refused.message)
            assert answers["ListJobs"].metadata["job_id"] == done.id
            assert (await client.get(done.id, view=BASIC, timeout=10)).state == SUCCEEDED
            assert [j.id for j in (await client.list_jobs(view=BASIC, timeout=10)).jobs] == [done.id]

            stub = ack_service_pb2_grpc.AckServiceStub(channel)
            info = _worker_info("legacy_remote")
            await stub.Lease(ack_service_pb2.LeaseRequest(worker=info, max_jobs=1), timeout=10)  # registers
            update_input = "UPDATE jobsvc_jobs SET input = to_jsonb($2::text) WHERE id = $1"
            cancelled = await client.submit("legacy_remote", "small", timeout=10)
            await conn.execute(update_input, cancelled.id, huge)
            answers["CancelJob"] = refused = await _refused(client.cancel(cancelled.id, timeout=10))
            assert (refused.reason, refused.metadata["limit"]) == ("RESPONSE_TOO_LARGE", str(LIMIT))
            assert "the cancel was carried out" in refused.message
            assert (await client.get(cancelled.id, view=BASIC, timeout=10)).state == job_pb2.JOB_STATE_CANCELLED

            queued = await client.submit("legacy_remote", "small", timeout=10)
            await conn.execute(update_input, queued.id, huge)
            leased = await stub.Lease(ack_service_pb2.LeaseRequest(worker=info, max_jobs=1), timeout=10)
            assert list(leased.assignments) == []
            job = await client.get(queued.id, view=BASIC, timeout=10)
            assert (job.state, job.error.type, job.error.non_retryable) == (FAILED, "jobsvc.InputTooLarge", True)
            answers["RedriveJob"] = refused = await _refused(client.redrive(queued.id, timeout=10))
            assert (refused.reason, refused.metadata["limit"]) == ("RESPONSE_TOO_LARGE", str(LIMIT))
            listed = await client.list_jobs(handler="legacy_remote", view=BASIC, timeout=10)
            assert [j.redrive_of for j in listed.jobs if j.redrive_of] == [queued.id]
    finally:
        await conn.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [f"{r.name}: {r.getMessage()}" for r in errors]
    print(f"[faults] legacy job answers: { {m: d.message[:90] for m, d in answers.items()} }")


@pytest.mark.slow  # starts a `jobsvc worker` process
async def test_sized_jobs_on_an_executor_and_a_worker_are_all_accounted_for(
    start_server: StartServer, children: Children, ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves (L1-L7 with the ledger): a mix of jobs under, at and over the limits, run by an
    in-process executor and a `jobsvc worker` process alike, ends with nothing lost or stuck:
    every accepted job terminal (the oversized ones FAILED after one attempt, non-retryably),
    every refused Submit (input over the limit) stored nothing, and every read answers."""
    server, target = await _server(start_server, handler_modules=["tests.faults.handlers"])
    await children.worker(target, "sized-worker")
    client = LedgerClient(ledger, target)
    values = [
        {"bytes": 10},
        {"bytes": AT_LIMIT},
        {"bytes": OVER},
        {"bytes": LIMIT + 1000},
        {"partial": OVER, "bytes": 10},
        {"partial": 10, "bytes": 10},
    ]
    try:
        calls = [spec("fault_sized", value, ledger.key(str(i))) for i, value in enumerate(values * 4)]
        ops = await asyncio.gather(*(client.call(job, timeout=60) for job in calls))
        refused = await client.submit(spec("fault_sized", "x" * (AT_LIMIT + 1), ledger.key("input")), timeout=10)
        assert (refused.outcome, refused.code) == ("failed", "RESOURCE_EXHAUSTED")
        states = [(op.outcome, op.state) for op in ops]
        expected = [("ok", "succeeded"), ("ok", "succeeded"), ("ok", "failed"), ("ok", "failed")]
        expected += [("ok", "failed"), ("ok", "succeeded")]
        assert states == expected * 4, states
        counts = await check(ledger, ledger_dsn)
        assert counts.lost == 0 and counts.re_executions == 0 and counts.accepted == len(values) * 4
        async with _client(target) as reader:
            for op in ops:
                await _every_read_answers(reader, await reader.get(op.job_id, timeout=10))
        conn = await asyncpg.connect(ledger_dsn)
        try:
            workers = await conn.fetch("SELECT worker, count(*) FROM fault_executions GROUP BY worker ORDER BY 1")
        finally:
            await conn.close()
        print(f"[faults] executions by worker: {[tuple(r) for r in workers]} (server {server.config.name})")
    finally:
        await client.close()
