"""OpenTelemetry tracing with an in-memory exporter: one trace from the caller's span
through the Call (or Submit) server span, the submit, the queue and the execution,
in-process and on a remote Python worker; and nothing at all when tracing is off."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator

import asyncpg
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.observability import ObservabilityConfig
from jobsvc.observability.tracing import TracingUnavailable
from jobsvc.sdk import Client, RemoteWorker, WorkerConfig
from tests.conftest import StartServer


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


async def finished_spans(exporter: InMemorySpanExporter, name: str, timeout: float = 20) -> list[ReadableSpan]:
    """Every finished span, once one named `name` has finished."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = list(exporter.get_finished_spans())
        if any(s.name == name for s in found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no span {name!r}; got {[s.name for s in exporter.get_finished_spans()]}")


def one(found: list[ReadableSpan], name: str) -> ReadableSpan:
    [span] = [s for s in found if s.name == name]
    return span


def assert_chain(found: list[ReadableSpan], caller: ReadableSpan, rpc: str, execute: str) -> None:
    """caller -> RPC server span -> jobsvc.submit -> execution, all in the caller's trace."""
    server = one(found, rpc)
    submit = one(found, "jobsvc.submit")
    execution = one(found, execute)
    trace_id = caller.context.trace_id
    assert {s.context.trace_id for s in (server, submit, execution)} == {trace_id}
    assert server.kind is SpanKind.SERVER and server.parent is not None
    assert server.parent.span_id == caller.context.span_id
    assert submit.kind is SpanKind.PRODUCER and submit.parent is not None
    assert submit.parent.span_id == server.context.span_id
    assert execution.kind is SpanKind.CONSUMER and execution.parent is not None
    assert execution.parent.span_id == submit.context.span_id
    # The Call waited for the execution: its span ends after the execution's.
    assert server.end_time is not None and execution.end_time is not None
    assert server.end_time >= execution.end_time or rpc.endswith("/Submit")


async def test_one_trace_from_the_caller_through_call_and_the_in_process_execution(
    start_server: StartServer, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    server = await start_server(observability=ObservabilityConfig(tracer_provider=provider))
    async with Client(f"127.0.0.1:{server.port}") as client:
        with provider.get_tracer("test").start_as_current_span("caller"):
            job = await client.call("echo", {"n": 1}, timeout=30)
    found = await finished_spans(exporter, "caller")
    assert_chain(found, one(found, "caller"), "jobsvc.v1.CallService/Call", "jobsvc.execute echo")
    execution = one(found, "jobsvc.execute echo")
    assert execution.attributes is not None and execution.attributes["jobsvc.job_id"] == job.id


async def test_a_submitted_job_continues_the_trace_and_failed_attempts_are_marked(
    start_server: StartServer, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    server = await start_server(observability=ObservabilityConfig(tracer_provider=provider))
    async with Client(f"127.0.0.1:{server.port}") as client:
        with provider.get_tracer("test").start_as_current_span("caller"):
            await client.submit("flaky_blocking", "x")
        found = await finished_spans(exporter, "caller")
        deadline = asyncio.get_running_loop().time() + 20
        while len([s for s in exporter.get_finished_spans() if s.name == "jobsvc.execute flaky_blocking"]) < 2:
            assert asyncio.get_running_loop().time() < deadline, "the retry never ran"
            await asyncio.sleep(0.05)
    found = list(exporter.get_finished_spans())
    caller = one(found, "caller")
    submit = one(found, "jobsvc.submit")
    attempts = sorted(
        (s for s in found if s.name == "jobsvc.execute flaky_blocking"),
        key=lambda s: (s.attributes or {}).get("jobsvc.attempt", 0),
    )
    # Both attempts are children of the one submit, in the caller's trace.
    assert [s.parent.span_id if s.parent else None for s in attempts] == [submit.context.span_id] * 2
    assert {s.context.trace_id for s in attempts} == {caller.context.trace_id}
    assert [s.status.is_ok for s in attempts] == [False, True]


async def test_the_trace_reaches_a_remote_python_worker(
    start_server: StartServer, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    server = await start_server(handler_modules=[], observability=ObservabilityConfig(tracer_provider=provider))
    table = HandlerTable([d for d in load_module("tests.handlers").handlers if d.name == "echo"])
    worker = RemoteWorker(
        f"127.0.0.1:{server.port}",
        table,
        config=WorkerConfig(lease_seconds=3.0, shutdown_grace=1.0, concurrency=2),
        tracer_provider=provider,
    )
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.connected.wait(), 10)
        async with Client(f"127.0.0.1:{server.port}") as client:
            with provider.get_tracer("test").start_as_current_span("caller"):
                await client.call("echo", 5, timeout=30)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
    found = await finished_spans(exporter, "caller")
    assert_chain(found, one(found, "caller"), "jobsvc.v1.CallService/Call", "jobsvc.execute echo")
    # The worker's Work session is not a span: it lasts as long as the worker.
    assert not [s for s in found if s.name.endswith("/Work")]


async def test_tracing_off_stores_no_context_and_makes_no_spans(
    server: object, client: Client, database_url: str, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    with provider.get_tracer("test").start_as_current_span("caller"):
        await client.call("echo", 1, timeout=30)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM jobsvc_jobs WHERE trace_context IS NOT NULL") == 0
    finally:
        await conn.close()
    assert [s.name for s in exporter.get_finished_spans()] == ["caller"]


def _otlp_installed() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.skipif(_otlp_installed(), reason="the otlp extra is installed")
async def test_the_otlp_exporter_without_its_extra_fails_the_start_clearly(start_server: StartServer) -> None:
    with pytest.raises(TracingUnavailable, match=r"jobsvc\[otlp\]"):
        await start_server(observability=ObservabilityConfig(trace_exporter="otlp"))
