"""Batches on the Work stream: a worker that says `accepts_batches` gets many assignments
(and outcomes) per message, and may send many settlements and progress reports in one
`batch`; each item means exactly what it means alone. A worker that does not say it
(every worker written before batches) gets one per message, as before."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import grpc
import pytest

from jobsvc.server import JobsvcServer
from jobsvc.v1 import (
    ack_service_pb2,
    job_pb2,
    job_service_pb2,
    job_service_pb2_grpc,
    stream_service_pb2,
    stream_service_pb2_grpc,
    submit_service_pb2,
    submit_service_pb2_grpc,
)
from tests.conftest import StartServer
from tests.raw_worker import TIMEOUT, RawWorker

HANDLER = "batch_echo"
LEASE_SECONDS = 30


@pytest.fixture
async def channel(start_server: StartServer) -> AsyncIterator[grpc.aio.Channel]:
    server: JobsvcServer = await start_server(handler_modules=[])  # jobs go to the raw worker only
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        yield ch


async def _worker(channel: grpc.aio.Channel, *, batches: bool) -> RawWorker:
    worker = RawWorker(channel, 1000, handler=HANDLER, lease_seconds=LEASE_SECONDS, accepts_batches=batches)
    await worker.until(lambda: bool(worker.of_kind("welcome")), "the welcome")
    return worker


async def _submit(channel: grpc.aio.Channel, count: int) -> list[str]:
    jobs = [job_pb2.JobSpec(handler=HANDLER, input=job_pb2.Payload()) for _ in range(count)]
    stub = submit_service_pb2_grpc.SubmitServiceStub(channel)
    response = await stub.SubmitBatch(submit_service_pb2.SubmitBatchRequest(jobs=jobs), timeout=TIMEOUT)
    return [job.id for job in response.jobs]


async def _assignments(worker: RawWorker, count: int) -> list[ack_service_pb2.Assignment]:
    await worker.until(lambda: len(worker.of_kind("assignment")) >= count, "the assignments")
    return list(worker.of_kind("assignment"))


def _kinds(worker: RawWorker) -> list[str]:
    return [str(r.WhichOneof("kind")) for r in worker.received]


async def _states(channel: grpc.aio.Channel, job_ids: Sequence[str]) -> set[int]:
    stub = job_service_pb2_grpc.JobServiceStub(channel)
    return {(await stub.GetJob(job_service_pb2.GetJobRequest(id=i), timeout=TIMEOUT)).job.state for i in job_ids}


def _ack_item(assignment: ack_service_pb2.Assignment) -> ack_service_pb2.WorkRequest.Batch.Item:
    ack = ack_service_pb2.AckRequest(job_id=assignment.job.id, attempt_token=assignment.attempt_token)
    ack.result.json.string_value = f"done {assignment.job.id}"
    return ack_service_pb2.WorkRequest.Batch.Item(ack=ack)


async def test_a_worker_that_accepts_batches_gets_and_sends_many_jobs_per_message(channel: grpc.aio.Channel) -> None:
    """Proves: the welcome says the server reads batches; 300 due jobs reach the worker in
    fewer messages than jobs; one `batch` of 300 acks settles every job SUCCEEDED with its
    own result, and the outcomes come back batched too, one OK per attempt."""
    worker = await _worker(channel, batches=True)
    try:
        [welcome] = worker.of_kind("welcome")
        assert welcome.accepts_batches and welcome.max_message_bytes > 0
        job_ids = await _submit(channel, 300)
        assignments = await _assignments(worker, 300)
        assert {a.job.id for a in assignments} == set(job_ids)
        carrying = [r for r in worker.received if r.WhichOneof("kind") in ("assignment", "assignments")]
        assert len(carrying) < 300 and "assignments" in _kinds(worker), "the assignments were not batched"

        for a in assignments:
            worker.sent.add(a.attempt_token)
        worker.send(
            ack_service_pb2.WorkRequest(batch=ack_service_pb2.WorkRequest.Batch(items=map(_ack_item, assignments)))
        )
        await worker.until(lambda: worker.sent <= worker.settled_ok(), "every ack answered OK")
        assert "settled_batch" in _kinds(worker), "the outcomes were not batched"
        assert len(worker.of_kind("settled")) == 300, "an attempt was answered twice"
        assert await _states(channel, job_ids) == {job_pb2.JOB_STATE_SUCCEEDED}
        stub = job_service_pb2_grpc.JobServiceStub(channel)
        job = (await stub.GetJob(job_service_pb2.GetJobRequest(id=job_ids[7]), timeout=TIMEOUT)).job
        assert job.result.json.string_value == f"done {job_ids[7]}"
    finally:
        await worker.close()


async def test_a_worker_that_does_not_accept_batches_gets_one_job_per_message(channel: grpc.aio.Channel) -> None:
    """Proves: a worker that predates batches (no accepts_batches) never receives a batched
    message, and its single acks settle as before."""
    worker = await _worker(channel, batches=False)
    try:
        job_ids = await _submit(channel, 200)
        assignments = await _assignments(worker, 200)
        for assignment in assignments:
            worker.ack(assignment)
        await worker.barrier()
        assert not {"assignments", "settled_batch"} & set(_kinds(worker))
        assert {a.attempt_token for a in assignments} <= worker.settled_ok()
        assert await _states(channel, job_ids) == {job_pb2.JOB_STATE_SUCCEEDED}
    finally:
        await worker.close()


async def test_the_items_of_a_batch_about_one_job_are_written_in_order(channel: grpc.aio.Channel) -> None:
    """Proves: progress, partial output and then the ack of each of 50 jobs, all in one
    batch (items of different jobs interleaved), land in that order for every job: no
    report is refused as coming after the job's end, and each job's events end with
    progress, partial output, success."""
    worker = await _worker(channel, batches=True)
    try:
        job_ids = await _submit(channel, 50)
        assignments = await _assignments(worker, 50)
        items: list[ack_service_pb2.WorkRequest.Batch.Item] = []
        for step in ("progress", "partial", "ack"):
            for a in assignments:
                if step == "ack":
                    items.append(_ack_item(a))
                    worker.sent.add(a.attempt_token)
                    continue
                report = ack_service_pb2.ReportProgressRequest(job_id=a.job.id, attempt_token=a.attempt_token)
                if step == "progress":
                    report.progress.percent = 50
                else:
                    report.partial_output.json.string_value = "half"
                items.append(ack_service_pb2.WorkRequest.Batch.Item(progress=report))
        worker.send(ack_service_pb2.WorkRequest(batch=ack_service_pb2.WorkRequest.Batch(items=items)))
        await worker.barrier()
        refused = [s for s in worker.of_kind("settled") if s.code != 0 and s.job_id in job_ids]
        assert not refused, f"{len(refused)} item(s) refused, the first: {refused[0]}"
        assert await _states(channel, job_ids) == {job_pb2.JOB_STATE_SUCCEEDED}
        stream = stream_service_pb2_grpc.StreamServiceStub(channel)
        for job_id in job_ids:
            request = stream_service_pb2.StreamRequest(job_id=job_id)
            kinds = [r.event.WhichOneof("kind") async for r in stream.Stream(request, timeout=TIMEOUT)][-3:]
            assert kinds == ["progress", "partial_output", "succeeded"], f"job {job_id}: {kinds}"
    finally:
        await worker.close()


async def test_an_empty_batch_item_is_refused_and_the_others_are_written(channel: grpc.aio.Channel) -> None:
    """Proves: a batch item that sets nothing is answered INVALID_ARGUMENT (reason
    EMPTY_BATCH_ITEM); the valid items beside it are written all the same."""
    worker = await _worker(channel, batches=True)
    try:
        job_ids = await _submit(channel, 2)
        assignments = await _assignments(worker, 2)
        items = [_ack_item(assignments[0]), ack_service_pb2.WorkRequest.Batch.Item(), _ack_item(assignments[1])]
        worker.sent |= {a.attempt_token for a in assignments}
        worker.send(ack_service_pb2.WorkRequest(batch=ack_service_pb2.WorkRequest.Batch(items=items)))
        await worker.barrier()
        [empty] = [s for s in worker.of_kind("settled") if s.reason == "EMPTY_BATCH_ITEM"]
        assert empty.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert await _states(channel, job_ids) == {job_pb2.JOB_STATE_SUCCEEDED}
    finally:
        await worker.close()
