"""Prometheus metrics: scraped over HTTP from a real server and parsed; every counter
moves by exactly the work done (a success, a retry then a success, a dead job, a
lease rescue), the queue gauges count what is queued, and RPCs are counted by method
and code."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobsvc.cli import _observability_config, build_parser
from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.domain.jobs import JobSpec, NewJob, Payload, RetryPolicy
from jobsvc.observability import ObservabilityConfig
from jobsvc.sdk import Client, RemoteWorker, WorkerConfig
from jobsvc.server import JobsvcServer
from jobsvc.store.postgres import PgStore, create_pool
from tests.conftest import StartServer

METRICS = ObservabilityConfig(metrics_port=0, metrics_host="127.0.0.1")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(server: JobsvcServer) -> Samples:
    """GET /metrics (from a thread: the queue gauges run their query on the server's loop)."""
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"

    def get() -> str:
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())

    text = await asyncio.to_thread(get)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def wait_metrics(server: JobsvcServer, done: Callable[[Samples], bool], timeout: float = 20) -> Samples:
    """Scrape until `done` holds (metrics are recorded just after the store's write)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        samples = await scrape(server)
        if done(samples) or asyncio.get_running_loop().time() > deadline:
            return samples
        await asyncio.sleep(0.1)


def job_counts(samples: Samples, handler: str) -> dict[str, float]:
    labels = {"handler": handler, "version": "1.0.0"}
    names = ("submitted", "started", "succeeded", "failed", "retried", "dead", "cancelled")
    counts = {n: value(samples, f"jobsvc_jobs_{n}_total", **labels) for n in names}
    counts["rescues"] = value(samples, "jobsvc_lease_rescues_total", **labels)
    counts["executions"] = value(samples, "jobsvc_job_execution_seconds_count", handler=handler)
    counts["end_to_end"] = value(samples, "jobsvc_job_end_to_end_seconds_count", handler=handler)
    return counts


ZERO = dict.fromkeys(
    ("submitted", "started", "succeeded", "failed", "retried", "dead", "cancelled", "rescues"), 0.0
) | {"executions": 0.0, "end_to_end": 0.0}


async def test_metrics_are_off_unless_a_port_is_given(server: JobsvcServer) -> None:
    assert server.metrics_port is None and not server.metrics.enabled


async def test_job_counters_move_by_exactly_the_work_done(start_server: StartServer) -> None:
    server = await start_server(observability=METRICS)
    async with Client(f"127.0.0.1:{server.port}") as client:
        ok = await client.call("echo", {"n": 1}, timeout=30)
        retried = await client.call("flaky", "x", timeout=30)
        dead = await client.call("fail", "x", timeout=30)
    assert [j.attempt for j in (ok, retried, dead)] == [1, 2, 1]

    samples = await wait_metrics(
        server,
        lambda s: all(job_counts(s, h)["end_to_end"] == 1 for h in ("echo", "flaky", "fail")),
    )
    assert job_counts(samples, "echo") == ZERO | {
        "submitted": 1,
        "started": 1,
        "succeeded": 1,
        "executions": 1,
        "end_to_end": 1,
    }
    assert job_counts(samples, "flaky") == ZERO | {
        "submitted": 1,
        "started": 2,
        "failed": 1,
        "retried": 1,
        "succeeded": 1,
        "executions": 2,
        "end_to_end": 1,
    }
    assert job_counts(samples, "fail") == ZERO | {
        "submitted": 1,
        "started": 1,
        "failed": 1,
        "dead": 1,
        "executions": 1,
        "end_to_end": 1,
    }
    calls = value(samples, "jobsvc_rpc_duration_seconds_count", method="/jobsvc.v1.CallService/Call", code="OK")
    assert calls == 3


async def test_a_rescued_lease_is_counted(start_server: StartServer, database_url: str) -> None:
    server = await start_server(observability=METRICS)
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        store = PgStore(pool)
        # A job of a version no process serves, leased by an executor that then "dies".
        spec = JobSpec("ghostly", "1.0.0", Payload(json=1))
        await store.job_insert_many([NewJob(spec, "1.0.0", retry_policy=RetryPolicy(1.0, 2.0, 300.0, 1, ()))])
        [claim] = await store.job_claim(["ghostly@1.0.0"], "a-dead-executor", 1, lease_seconds=0.05)
    finally:
        await pool.close()
    samples = await wait_metrics(server, lambda s: job_counts(s, "ghostly")["dead"] == 1)
    assert claim.job.attempt == 1
    # Started by that executor, not by this server: started is not this server's to count.
    assert job_counts(samples, "ghostly") == ZERO | {
        "rescues": 1,
        "failed": 1,
        "dead": 1,
        "executions": 1,
        "end_to_end": 1,
    }


async def test_queue_gauges_count_due_and_scheduled_jobs(start_server: StartServer) -> None:
    # No in-process handlers and no worker: what is submitted stays queued.
    server = await start_server(handler_modules=[], observability=METRICS)
    before = await scrape(server)
    assert value(before, "jobsvc_queue_depth", handler="nobody") == 0
    pool = await create_pool(server.database_url or "", min_size=1, max_size=2)
    try:
        store = PgStore(pool)
        later = datetime.now(UTC) + timedelta(hours=1)
        await store.job_insert_many(
            [NewJob(JobSpec("nobody", "1.0.0", Payload(json=i)), "1.0.0") for i in range(3)]
            + [NewJob(JobSpec("nobody", "1.0.0", Payload(json=i), run_at=later), "1.0.0") for i in range(2)]
        )
    finally:
        await pool.close()
    await asyncio.sleep(2.1)  # the gauges are cached for 2 s
    samples = await scrape(server)
    assert value(samples, "jobsvc_queue_depth", handler="nobody") == 3
    assert value(samples, "jobsvc_queue_scheduled", handler="nobody") == 2
    assert value(samples, "jobsvc_queue_oldest_age_seconds", handler="nobody") >= 0


async def test_queue_depth_by_the_labels_the_operator_names_is_bounded(start_server: StartServer) -> None:
    config = replace(METRICS, metric_labels=("tenant", "region"), metric_label_values=2)
    server = await start_server(handler_modules=[], observability=config)
    later = datetime.now(UTC) + timedelta(hours=1)

    def job(labels: dict[str, str], run_at: datetime | None = None) -> NewJob:
        return NewJob(JobSpec("nobody", "1.0.0", Payload(json=0), labels=labels, run_at=run_at), "1.0.0")

    tenants = {"a": 5, "b": 3, "c": 2, "d": 1}
    pool = await create_pool(server.database_url or "", min_size=1, max_size=2)
    try:
        await PgStore(pool).job_insert_many(
            [job({"tenant": t}) for t, n in tenants.items() for _ in range(n)]
            + [job({"region": "eu", "tenant": "a"})] * 2  # counted under both labels
            + [job({"other_label": "x"})] * 4  # not a named label: in jobsvc_queue_depth only
            + [job({"tenant": "c"}, run_at=later)] * 3  # not due: not in the depth
        )
    finally:
        await pool.close()
    samples = await scrape(server)
    by_label = {
        (dict(labels)["label"], dict(labels)["value"]): v
        for (name, labels), v in samples.items()
        if name == "jobsvc_queue_depth_by_label"
    }
    # The 2 most queued tenants one by one, the rest (c: 2, d: 1) folded into "other".
    assert by_label == {("tenant", "a"): 7, ("tenant", "b"): 3, ("tenant", "other"): 3, ("region", "eu"): 2}
    assert value(samples, "jobsvc_queue_depth", handler="nobody") == 17


async def test_rpcs_are_counted_by_method_and_code_and_workers_are_gauged(start_server: StartServer) -> None:
    server = await start_server(handler_modules=[], observability=METRICS)
    table = HandlerTable([d for d in load_module("tests.handlers").handlers if d.name == "echo"])
    worker = RemoteWorker(
        f"127.0.0.1:{server.port}", table, config=WorkerConfig(lease_seconds=3.0, shutdown_grace=1.0, concurrency=2)
    )
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.connected.wait(), 10)
        async with Client(f"127.0.0.1:{server.port}") as client:
            job = await client.call("echo", 7, timeout=30)
            events = [e async for e in client.stream(job.id)]
            with pytest.raises(grpc.aio.AioRpcError):
                await client.get("00000000-0000-0000-0000-000000000000")
            with pytest.raises(grpc.aio.AioRpcError):
                await client.get("not-a-uuid")
        assert events[-1].WhichOneof("kind") == "succeeded"
        samples = await wait_metrics(server, lambda s: job_counts(s, "echo")["succeeded"] == 1)
        rpc = "jobsvc_rpc_duration_seconds_count"
        assert value(samples, rpc, method="/jobsvc.v1.CallService/Call", code="OK") == 1
        assert value(samples, rpc, method="/jobsvc.v1.StreamService/Stream", code="OK") == 1
        assert value(samples, rpc, method="/jobsvc.v1.JobService/GetJob", code="NOT_FOUND") == 1
        assert value(samples, rpc, method="/jobsvc.v1.JobService/GetJob", code="INVALID_ARGUMENT") == 1
        assert value(samples, "jobsvc_workers_connected") == 1
        # The remote worker's attempt: started on assignment, succeeded on its ack.
        assert job_counts(samples, "echo") | {"end_to_end": 1} == ZERO | {
            "submitted": 1,
            "started": 1,
            "succeeded": 1,
            "executions": 1,
            "end_to_end": 1,
        }
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)

    # The session ended: the Work stream is counted (by the code it ended with), the gauge is 0.
    def work_streams(samples: Samples) -> float:
        return sum(
            v
            for (name, labels), v in samples.items()
            if name == "jobsvc_rpc_duration_seconds_count" and ("method", "/jobsvc.v1.AckService/Work") in labels
        )

    samples = await wait_metrics(server, lambda s: work_streams(s) == 1)
    assert work_streams(samples) == 1
    assert value(samples, "jobsvc_workers_connected") == 0


def test_serve_flags_fill_the_observability_config() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--metrics-port",
            "9464",
            "--metrics-host",
            "127.0.0.1",
            "--trace-exporter",
            "console",
            "--log-format",
            "json",
            "--metric-labels",
            "tenant, region",
            "--metric-label-values",
            "5",
        ]
    )
    assert _observability_config(args) == ObservabilityConfig(
        metrics_port=9464,
        metrics_host="127.0.0.1",
        trace_exporter="console",
        log_format="json",
        metric_labels=("tenant", "region"),
        metric_label_values=5,
    )
    defaults = _observability_config(build_parser().parse_args(["serve"]))
    assert defaults == ObservabilityConfig()
