"""Options of the commands that run the service: serve, worker, migrate, token.

Every option that sets a field of a config dataclass takes that field's default
(`default=ServerConfig.pool_size`), and a help text that shows a default reads it from
there too: each default is written once, in its dataclass.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from jobsvc import options
from jobsvc.api.auth import SCOPES, AuthConfig
from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.cli.parser.client import DEFAULT_SERVER, add_client_security_options
from jobsvc.executor import ExecutorConfig
from jobsvc.handlers.http_delivery import HttpDeliveryConfig
from jobsvc.observability import ObservabilityConfig
from jobsvc.observability.logs import LOG_FORMATS
from jobsvc.observability.tracing import TRACE_EXPORTERS
from jobsvc.sdk import WorkerConfig
from jobsvc.server import DEFAULT_DRAIN_DELAY, DEFAULT_HTTP_PORT, ConnectionConfig, ServerConfig, TlsConfig
from jobsvc.store.connection import POOLERS


def add_service_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """serve, worker, migrate, token: the long-running processes, the schema, tokens."""
    _add_serve_command(commands)
    _add_worker_command(commands)
    _add_migrate_command(commands)
    _add_token_command(commands)


def _add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--host", default=ServerConfig.host, help="gRPC listen address")
    serve.add_argument("--port", type=int, default=ServerConfig.port, help="gRPC listen port")
    serve.add_argument(
        "--http-port",
        type=int,
        # Not ServerConfig.http_port (None: an embedded server serves no HTTP unless asked).
        default=DEFAULT_HTTP_PORT,
        help="the API over HTTP (Connect: JSON or binary protobuf) and the dashboard, on --host; 0: off",
    )
    _add_database_options(serve)
    serve.add_argument(
        "--database-pooler",
        choices=POOLERS,
        default=ServerConfig.database_pooler,
        help="what --database-url goes through: none (PostgreSQL, or a pooler in session mode) or "
        "transaction (PgBouncer's transaction pooling: no prepared-statement cache; needs "
        "--listen-database-url)",
    )
    serve.add_argument(
        "--listen-database-url",
        default=ServerConfig.listen_database_url,
        help="URL of the LISTEN connection, which must keep its session: direct to PostgreSQL or "
        "through a session-mode pool (default: --database-url)",
    )
    serve.add_argument(
        "--handlers",
        action="append",
        default=[],  # ServerConfig.handler_modules' default (argparse takes a value, not a factory)
        metavar="MODULE",
        help="Python module with @handler functions (repeatable; env and file: a list)",
    )
    serve.add_argument(
        "--concurrency", type=int, default=ExecutorConfig.concurrency, help="jobs run at once by this process"
    )
    serve.add_argument(
        "--processes",
        type=processes_option,
        default=1,
        metavar="N|auto",
        help="server processes on this machine, sharing --port and --http-port (SO_REUSEPORT), each with "
        "an executor of --concurrency: Python runs one core per process; 'auto': one per usable CPU",
    )
    serve.add_argument(
        "--lease-seconds",
        type=float,
        default=ExecutorConfig.lease_seconds,
        help="how long this process's executor holds a job it runs without renewing it; a job whose "
        "process died runs again elsewhere about this long later (remote workers choose their own)",
    )
    serve.add_argument(
        "--history-after",
        type=float,
        default=MaintenanceConfig.history_after,
        help="seconds a finished job stays in the live jobs table before it moves to the history "
        "(partitioned by day; retention drops whole days)",
    )
    serve.add_argument("--pool-size", type=int, default=ServerConfig.pool_size, help="database connections")
    _add_lifecycle_options(serve)
    _add_connection_options(serve)
    _add_observability_options(serve)
    _add_server_security_options(serve)
    _add_http_delivery_options(serve)
    _add_config_options(serve)


def _add_worker_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = commands.add_parser("worker", help="run handlers as a remote worker of a jobsvc server")
    worker.add_argument(
        "--server", dest="worker_server", default=DEFAULT_SERVER, help="host:port of a jobsvc server or balancer"
    )
    worker.add_argument(
        "--handlers",
        action="append",
        default=[],
        metavar="MODULE",
        required=True,
        help="Python module with @handler functions (repeatable)",
    )
    worker.add_argument(
        "--concurrency", type=int, default=WorkerConfig.concurrency, help="jobs run at once by this worker"
    )
    # None: WorkerConfig's own default, made when the worker starts.
    worker.add_argument("--worker-id", default=None, help="default host:pid")
    worker.add_argument("--lease", type=float, default=WorkerConfig.lease_seconds, help="lease length in seconds")
    worker.add_argument(
        "--shutdown-grace",
        type=float,
        default=WorkerConfig.shutdown_grace,
        help="seconds running jobs get on SIGTERM",
    )
    _add_observability_options(worker, metrics=False)
    add_client_security_options(worker)
    _add_config_options(worker)


def _add_migrate_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    _add_database_options(migrate)
    _add_config_options(migrate)


def _add_token_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser("token", help="make tokens and their hashes for --auth-file")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    token_commands.add_parser("hash", help="print the SHA-256 of a token read from standard input")
    new = token_commands.add_parser("new", help="print a new random token and its [tokens.NAME] table")
    new.add_argument("name")
    new.add_argument("--scope", action="append", required=True, choices=sorted(SCOPES))


def _add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url", default=ServerConfig.database_url, help="PostgreSQL URL; an embedded PostgreSQL when not set"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=ServerConfig.data_dir,
        help="embedded PostgreSQL data directory (not set: `$XDG_DATA_HOME/jobsvc/pgdata`, "
        "else `~/.local/share/jobsvc/pgdata`)",
    )


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help=f"TOML file of options (keys: option names, e.g. shutdown_grace = 5); env {options.CONFIG_ENV}",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective configuration (secrets redacted) as TOML and exit",
    )


def _add_lifecycle_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--shutdown-grace",
        type=float,
        default=ServerConfig.shutdown_grace,
        help="seconds running jobs and open RPCs get on SIGTERM (after the drain delay); then jobs are requeued",
    )
    serve.add_argument(
        "--drain-delay",
        type=float,
        # Not ServerConfig.drain_delay (0: an embedded server has no balancer to wait for).
        default=DEFAULT_DRAIN_DELAY,
        help="seconds between health NOT_SERVING and refusing new RPCs on SIGTERM, for balancers to notice "
        "(Ctrl-C and a second signal skip it)",
    )
    serve.add_argument(
        "--health-interval",
        type=float,
        default=ServerConfig.health_interval,
        help="seconds between database checks behind the health status",
    )
    serve.add_argument(
        "--pause-propagation",
        type=float,
        default=ServerConfig.pause_propagation,
        help="seconds a pause RPC waits before answering, so that every replica obeys by then "
        "(0: at once; replicas obey within about a second)",
    )
    serve.add_argument(
        "--database-timeout",
        type=float,
        default=ServerConfig.database_timeout,
        help="seconds a health check or a request waits for the database before it counts as unreachable "
        "(health NOT_SERVING, requests UNAVAILABLE)",
    )


def _add_connection_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--keepalive-time",
        type=float,
        default=ConnectionConfig.keepalive_time,
        help="seconds before pinging an idle client",
    )
    serve.add_argument(
        "--keepalive-timeout",
        type=float,
        default=ConnectionConfig.keepalive_timeout,
        help="seconds to wait for a ping's answer before closing the connection",
    )
    serve.add_argument(
        "--keepalive-permit-without-calls",
        action=argparse.BooleanOptionalAction,
        default=ConnectionConfig.keepalive_permit_without_calls,
        help="let clients ping while no RPC is open",
    )
    serve.add_argument(
        "--min-ping-interval",
        type=float,
        default=ConnectionConfig.min_ping_interval,
        help="seconds: clients pinging more often get GOAWAY too_many_pings",
    )
    serve.add_argument(
        "--max-connection-age",
        type=float,
        default=ConnectionConfig.max_connection_age,
        help="seconds before a connection is asked to reconnect (GOAWAY; rebalances behind a layer-4 "
        "balancer); 0: never",
    )
    serve.add_argument(
        "--max-connection-age-grace",
        type=float,
        default=ConnectionConfig.max_connection_age_grace,
        help="seconds open RPCs get after that GOAWAY",
    )
    _add_size_options(serve)


def _add_size_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--max-message-bytes",
        type=int,
        default=ConnectionConfig.max_message_bytes,
        help="largest request or response; larger requests get RESOURCE_EXHAUSTED",
    )
    default_limits = ConnectionConfig().limits
    serve.add_argument(
        "--max-payload-bytes",
        type=int,
        default=ConnectionConfig.max_payload_bytes,
        help="largest input, result or partial output of a job, encoded (larger inputs get RESOURCE_EXHAUSTED, "
        "larger results and outputs fail the attempt); not set: 7/16 of --max-message-bytes "
        f"({default_limits.largest_payload} of {default_limits.max_message_bytes // 2**20} MiB), "
        "also the most it may be",
    )
    serve.add_argument(
        "--max-concurrent-streams",
        type=int,
        default=ConnectionConfig.max_concurrent_streams,
        help="RPCs open at once per connection (more wait in the client); 0: grpc's default",
    )


def _add_observability_options(parser: argparse.ArgumentParser, *, metrics: bool = True) -> None:
    """Metrics, tracing and log format (serve; worker without the metrics port)."""
    if metrics:
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=ObservabilityConfig.metrics_port,
            help="serve Prometheus metrics on this HTTP port (default: off)",
        )
        parser.add_argument(
            "--metrics-host",
            default=ObservabilityConfig.metrics_host,
            help=f"address of the metrics port (default {ObservabilityConfig.metrics_host})",
        )
        parser.add_argument(
            "--metric-labels",
            default=",".join(ObservabilityConfig.metric_labels) or None,
            metavar="NAME[,NAME...]",
            help="job labels whose values split the queue depth (jobsvc_queue_depth_by_label), e.g. tenant",
        )
        parser.add_argument(
            "--metric-label-values",
            type=int,
            default=ObservabilityConfig.metric_label_values,
            metavar="N",
            help='the most queued N values of each --metric-labels label are exported, the rest as "other"',
        )
    parser.add_argument(
        "--trace-exporter",
        choices=TRACE_EXPORTERS,
        default=ObservabilityConfig.trace_exporter,
        help="OpenTelemetry span exporter (otlp needs the jobsvc[otlp] extra; "
        f"default {ObservabilityConfig.trace_exporter})",
    )
    parser.add_argument(
        "--trace-endpoint",
        default=ObservabilityConfig.trace_endpoint,
        help="OTLP gRPC endpoint, e.g. http://collector:4317 (otlp's default)",
    )
    parser.add_argument(
        "--log-format", choices=LOG_FORMATS, default=ObservabilityConfig.log_format, help=_log_format_help()
    )


def _log_format_help() -> str:
    """What each --log-format is for, the default marked."""
    meanings = {"text": "for a terminal", "json": "(one object per line) for log collectors"}
    shown = [
        f"{name} {meanings[name]}" + (" (default)" if name == ObservabilityConfig.log_format else "")
        for name in LOG_FORMATS
    ]
    return ", ".join(shown)


def _add_http_delivery_options(serve: argparse.ArgumentParser) -> None:
    """The built-in jobsvc.http handler (off unless --http-delivery)."""
    http = serve.add_argument_group("HTTP delivery (the built-in jobsvc.http handler)")
    http.add_argument(
        "--http-delivery",
        action=argparse.BooleanOptionalAction,
        default=HttpDeliveryConfig.enabled,
        help="serve jobsvc.http 1.0.0, which sends the HTTP request its job describes",
    )
    http.add_argument(
        "--http-allow-private-targets",
        action=argparse.BooleanOptionalAction,
        default=HttpDeliveryConfig.allow_private_targets,
        help="let jobs send to private, loopback and link-local addresses (refused by default)",
    )
    http.add_argument(
        "--http-secrets-file",
        type=Path,
        default=HttpDeliveryConfig.secrets_file,
        help='TOML file of NAME = "SECRET" lines: the signing secrets jobs may name',
    )
    http.add_argument(
        "--http-timeout", type=float, default=HttpDeliveryConfig.timeout, help="seconds per request (and its cap)"
    )
    http.add_argument(
        "--http-host-concurrency",
        type=int,
        default=HttpDeliveryConfig.host_concurrency,
        metavar="N",
        help="at most N requests at once to one host:port, across all replicas",
    )
    http.add_argument(
        "--http-host-rate",
        type=int,
        default=HttpDeliveryConfig.host_rate,
        metavar="N",
        help="at most N requests start per --http-host-rate-period to one host:port",
    )
    http.add_argument(
        "--http-host-rate-period",
        type=float,
        default=HttpDeliveryConfig.host_rate_period,
        metavar="SECONDS",
        help="the window of --http-host-rate",
    )


def _add_server_security_options(serve: argparse.ArgumentParser) -> None:
    """Server-side TLS and tokens (`jobsvc serve`)."""
    tls = serve.add_argument_group("TLS")
    tls.add_argument(
        "--tls-cert", type=Path, default=TlsConfig.cert, help="server certificate chain (PEM); turns TLS on"
    )
    tls.add_argument("--tls-key", type=Path, default=TlsConfig.key, help="private key of --tls-cert (PEM)")
    tls.add_argument(
        "--tls-client-ca",
        type=Path,
        default=TlsConfig.client_ca,
        help="CA bundle (PEM) for mutual TLS: clients must present a certificate it signed",
    )
    auth = serve.add_argument_group("authentication (off when neither is given)")
    auth.add_argument(
        "--auth-file",
        type=Path,
        default=AuthConfig.tokens_file,
        help="TOML file of [tokens.NAME] tables with sha256 and scopes",
    )
    auth.add_argument(
        "--auth-tokens",
        default=AuthConfig.tokens,
        metavar="NAME:SCOPES:SHA256 ...",
        help="tokens inline (for one environment variable): NAME:SCOPE[,SCOPE...]:SHA256, space-separated",
    )


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which a container's cpuset limits),
    and at most its cgroup's CPU quota when one is set."""
    cpus = len(os.sched_getaffinity(0))
    with contextlib.suppress(OSError, ValueError):
        with open("/sys/fs/cgroup/cpu.max") as limit:
            quota, period = limit.read().split()
        if quota != "max":
            cpus = min(cpus, max(1, int(quota) // int(period)))
    return cpus


def processes_option(value: str) -> int:
    """--processes: a count from 1, or `auto` (usable_cpus())."""
    if value == "auto":
        return usable_cpus()
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes or 'auto', got {value!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 process, got {count}")
    return count
