"""Observability: Prometheus metrics, OpenTelemetry tracing and structured logs.

Each part is off (or a no-op) unless configured, so the hot paths pay at most an
attribute check when nothing is observed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ObservabilityConfig:
    """How a server exposes what it does (`jobsvc serve` observability flags)."""

    # Prometheus metrics over HTTP on this port (0 picks a free one); None: no metrics.
    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"
    # Job labels (names) whose values split the queue depth: jobsvc_queue_depth_by_label,
    # with at most metric_label_values values per label (the most queued), the rest "other".
    metric_labels: tuple[str, ...] = ()
    metric_label_values: int = 20
    # none | console | otlp (the otlp exporter is the optional extra `jobsvc[otlp]`).
    trace_exporter: str = "none"
    # OTLP gRPC endpoint, e.g. http://collector:4317 (the exporter's default when None).
    trace_endpoint: str | None = None
    # An OpenTelemetry TracerProvider to use instead of building one from trace_exporter
    # (tests, or a program that embeds jobsvc and configures OpenTelemetry itself).
    tracer_provider: Any = None
    # text | json; applied by the `jobsvc` command, which owns the process's logging.
    log_format: str = "text"
