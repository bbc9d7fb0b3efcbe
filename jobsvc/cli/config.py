"""Parsed options -> the configs they describe: the one place that turns `jobsvc` options
into a ServerConfig, a WorkerConfig, an ObservabilityConfig and a ClientSecurity.

Nothing here has a default of its own: an option not given holds its config field's
default (jobsvc.cli.parser), or is left out so that the config's default applies.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from jobsvc.api.auth import AuthConfig
from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.executor import ExecutorConfig
from jobsvc.handlers.http_delivery import HttpDeliveryConfig
from jobsvc.observability import ObservabilityConfig
from jobsvc.sdk import ClientSecurity, WorkerConfig
from jobsvc.server import ConnectionConfig, ServerConfig, TlsConfig


def server_config(args: argparse.Namespace) -> ServerConfig:
    """The ServerConfig that `jobsvc serve` options describe."""
    return ServerConfig(
        host=args.host,
        port=args.port,
        http_port=args.http_port or None,  # 0 turns the HTTP port off
        database_url=args.database_url,
        database_pooler=args.database_pooler,
        listen_database_url=args.listen_database_url,
        data_dir=args.data_dir,
        handler_modules=args.handlers,
        shutdown_grace=args.shutdown_grace,
        drain_delay=args.drain_delay,
        health_interval=args.health_interval,
        database_timeout=args.database_timeout,
        pause_propagation=args.pause_propagation,
        pool_size=args.pool_size,
        executor=ExecutorConfig(concurrency=args.concurrency, lease_seconds=_lease_seconds(args)),
        maintenance=MaintenanceConfig(history_after=_history_after(args)),
        observability=observability_config(args),
        connection=_connection_config(args),
        tls=TlsConfig(cert=args.tls_cert, key=args.tls_key, client_ca=args.tls_client_ca),
        auth=AuthConfig(tokens_file=args.auth_file, tokens=args.auth_tokens),
        http_delivery=_http_delivery_config(args),
    )


def _http_delivery_config(args: argparse.Namespace) -> HttpDeliveryConfig:
    return HttpDeliveryConfig(
        enabled=args.http_delivery,
        allow_private_targets=args.http_allow_private_targets,
        secrets_file=args.http_secrets_file,
        timeout=args.http_timeout,
        host_concurrency=args.http_host_concurrency,
        host_rate=args.http_host_rate,
        host_rate_period=args.http_host_rate_period,
    )


def _connection_config(args: argparse.Namespace) -> ConnectionConfig:
    return ConnectionConfig(
        keepalive_time=args.keepalive_time,
        keepalive_timeout=args.keepalive_timeout,
        keepalive_permit_without_calls=args.keepalive_permit_without_calls,
        min_ping_interval=args.min_ping_interval,
        max_connection_age=args.max_connection_age,
        max_connection_age_grace=args.max_connection_age_grace,
        max_message_bytes=args.max_message_bytes,
        max_payload_bytes=args.max_payload_bytes,
        max_concurrent_streams=args.max_concurrent_streams,
    )


def observability_config(args: argparse.Namespace) -> ObservabilityConfig:
    """The observability options of `jobsvc serve`, or of `jobsvc worker` (which has no metrics port)."""
    config = ObservabilityConfig(
        trace_exporter=args.trace_exporter, trace_endpoint=args.trace_endpoint, log_format=args.log_format
    )
    if "metrics_port" not in args:
        return config
    if args.metric_label_values < 1:
        raise SystemExit("--metric-label-values must be at least 1")
    return replace(
        config,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        metric_labels=tuple(name.strip() for name in (args.metric_labels or "").split(",") if name.strip()),
        metric_label_values=args.metric_label_values,
    )


def worker_config(args: argparse.Namespace) -> WorkerConfig:
    """The WorkerConfig that `jobsvc worker` options describe."""
    config = WorkerConfig(concurrency=args.concurrency, lease_seconds=args.lease, shutdown_grace=args.shutdown_grace)
    # Without --worker-id, WorkerConfig's default (host:pid).
    return replace(config, worker_id=args.worker_id) if args.worker_id else config


def client_security(args: argparse.Namespace) -> ClientSecurity:
    """How a client command or a worker reaches the server: the options given, else the
    JOBSVC_TOKEN / JOBSVC_TLS_* environment (the options have no parser defaults)."""
    return ClientSecurity.from_env(
        token=getattr(args, "token", None),
        ca=getattr(args, "tls_ca", None),
        tls=getattr(args, "tls", None),
        cert=getattr(args, "tls_cert", None),
        key=getattr(args, "tls_key", None),
        server_name=getattr(args, "tls_server_name", None),
    )


def log_format(args: argparse.Namespace) -> str:
    """--log-format of serve and worker; ObservabilityConfig's default for the other commands."""
    value: str = getattr(args, "log_format", ObservabilityConfig.log_format)
    return value


def _history_after(args: argparse.Namespace) -> float:
    if not args.history_after >= 0:
        raise SystemExit("--history-after must be 0 or more")
    history_after: float = args.history_after
    return history_after


def _lease_seconds(args: argparse.Namespace) -> float:
    if not args.lease_seconds > 0:
        raise SystemExit("--lease-seconds must be more than 0")
    lease: float = args.lease_seconds
    return lease
