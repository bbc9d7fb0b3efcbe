"""OpenTelemetry tracing: a caller's trace continues through Submit (or Call, Stream),
is stored with the job, and goes on in the execution, in-process or on a remote
worker, which gets it in its assignment.

    caller span -> RPC server span (Call) -> jobsvc.submit (producer) -> jobsvc.execute (consumer)

Contexts travel as W3C trace context (`traceparent`, `tracestate`): in gRPC metadata,
in the job's row and in the assignment. Off by default: then no span objects are made.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACE_EXPORTERS = ("none", "console", "otlp")
TRACE_HEADERS = ("traceparent", "tracestate")
OTLP_MODULE = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"

_propagator = TraceContextTextMapPropagator()


class TracingUnavailable(Exception):
    """The exporter asked for cannot be used (its package is not installed)."""


def build_provider(exporter: str, endpoint: str | None = None, service_name: str = "jobsvc") -> TracerProvider:
    """A TracerProvider exporting to `exporter` (console or otlp) in batches."""
    span_exporter: SpanExporter
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    elif exporter == "otlp":
        try:
            module = importlib.import_module(OTLP_MODULE)
        except ImportError:
            raise TracingUnavailable(
                "--trace-exporter otlp needs the OTLP exporter, which is not installed: "
                "pip install 'jobsvc[otlp]' (opentelemetry-exporter-otlp-proto-grpc)"
            ) from None
        span_exporter = module.OTLPSpanExporter(endpoint=endpoint) if endpoint else module.OTLPSpanExporter()
    else:
        raise ValueError(f"trace exporter must be one of {', '.join(TRACE_EXPORTERS)}, not {exporter!r}")
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    return provider


def current_carrier() -> dict[str, str]:
    """The current trace context as W3C headers (empty when there is no span)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


@contextmanager
def continued_trace(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Make `carrier`'s context current without a span of our own (a worker that does not
    trace), so calls the handler makes, with the jobsvc client say, continue the trace."""
    if not carrier:
        yield
        return
    token = otel_context.attach(_propagator.extract(dict(carrier)))
    try:
        yield
    finally:
        otel_context.detach(token)


def _carrier_from_metadata(metadata: Any) -> dict[str, str]:
    carrier: dict[str, str] = {}
    for key, value in metadata or ():
        if key in TRACE_HEADERS and isinstance(value, str):
            carrier[key] = value
    return carrier


class Tracing:
    """Spans of one server or worker, from its TracerProvider."""

    def __init__(self, provider: trace.TracerProvider, name: str = "jobsvc") -> None:
        self.provider = provider
        self._tracer = provider.get_tracer(name)

    @contextmanager
    def rpc_span(self, method: str, metadata: Any) -> Iterator[Span]:
        """The server span of an RPC (`/jobsvc.v1.CallService/Call`), child of the caller's
        context from the metadata; current while the servicer runs."""
        parent = _propagator.extract(_carrier_from_metadata(metadata))
        service, _, name = method.lstrip("/").partition("/")
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
        with self._tracer.start_as_current_span(
            method.lstrip("/"),
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            yield span

    @contextmanager
    def submit_span(self, handlers: list[str]) -> Iterator[dict[str, str]]:
        """The span of enqueueing jobs; yields its context, to be stored with the jobs."""
        with self._tracer.start_as_current_span(
            "jobsvc.submit",
            kind=SpanKind.PRODUCER,
            attributes={"jobsvc.handler": handlers[0] if len(set(handlers)) == 1 else "", "jobsvc.jobs": len(handlers)},
        ):
            yield current_carrier()

    @contextmanager
    def execution_span(
        self, job_id: str, handler: str, version: str, attempt: int, carrier: Mapping[str, str] | None
    ) -> Iterator[Span]:
        """The span of one attempt, child of the submit's context; current while the handler runs."""
        parent = _propagator.extract(dict(carrier)) if carrier else None
        with self._tracer.start_as_current_span(
            f"jobsvc.execute {handler}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "jobsvc.job_id": job_id,
                "jobsvc.handler": handler,
                "jobsvc.version": version,
                "jobsvc.attempt": attempt,
            },
        ) as span:
            yield span

    @staticmethod
    def set_error(span: Span, description: str) -> None:
        """Mark a span failed."""
        span.set_status(Status(StatusCode.ERROR, description))

    def shutdown(self) -> None:
        """Flush and stop the provider's exporters (when it has them)."""
        shutdown = getattr(self.provider, "shutdown", None)
        if shutdown is not None:
            shutdown()
