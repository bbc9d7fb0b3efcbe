"""The `jobsvc` command: run the service, and talk to it.

jobsvc serve --handlers mypkg.jobs            # embedded PostgreSQL unless a URL is given
jobsvc call resize_image '{"width": 64}' --version '^2'
jobsvc watch --submit steps '{"count": 5}'
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace

from jobsvc import options
from jobsvc.api.auth import SCOPES, AuthConfig, token_digest
from jobsvc.executor import ExecutorConfig
from jobsvc.observability import ObservabilityConfig
from jobsvc.observability.logs import LOG_FORMATS, configure_logging
from jobsvc.observability.tracing import TRACE_EXPORTERS, TracingUnavailable, build_provider
from jobsvc.sdk import Client, ClientSecurity, WorkerConfig, error_details, job_spec, payload_value, run_worker
from jobsvc.server import DEFAULT_DRAIN_DELAY, ConnectionConfig, JobsvcServer, ServerConfig, TlsConfig, default_data_dir
from jobsvc.store.embedded import EmbeddedPostgres
from jobsvc.store.postgres import PgStore, create_pool
from jobsvc.v1 import job_pb2, job_service_pb2

uvloop: ModuleType | None
try:
    import uvloop
except ImportError:  # optional: uvloop serves gRPC ~40% faster, plain asyncio works too
    uvloop = None

DEFAULT_SERVER = "127.0.0.1:50051"
TERMINAL_KINDS = ("succeeded", "failed", "cancelled")


def _add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL; an embedded PostgreSQL when not set")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
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


def _add_observability_options(parser: argparse.ArgumentParser, *, metrics: bool = True) -> None:
    """Metrics, tracing and log format (serve; worker without the metrics port)."""
    if metrics:
        parser.add_argument(
            "--metrics-port", type=int, default=None, help="serve Prometheus metrics on this HTTP port (default: off)"
        )
        parser.add_argument("--metrics-host", default="0.0.0.0", help="address of the metrics port (default 0.0.0.0)")
    parser.add_argument(
        "--trace-exporter",
        choices=TRACE_EXPORTERS,
        default="none",
        help="OpenTelemetry span exporter (otlp needs the jobsvc[otlp] extra; default none)",
    )
    parser.add_argument(
        "--trace-endpoint", default=None, help="OTLP gRPC endpoint, e.g. http://collector:4317 (otlp's default)"
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="text",
        help="text for a terminal (default), json (one object per line) for log collectors",
    )


def _observability_config(args: argparse.Namespace) -> ObservabilityConfig:
    return ObservabilityConfig(
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        trace_exporter=args.trace_exporter,
        trace_endpoint=args.trace_endpoint,
        log_format=args.log_format,
    )


def _add_security_options(parser: argparse.ArgumentParser) -> None:
    """Server-side TLS and tokens (`jobsvc serve`)."""
    tls = parser.add_argument_group("TLS")
    tls.add_argument("--tls-cert", type=Path, default=None, help="server certificate chain (PEM); turns TLS on")
    tls.add_argument("--tls-key", type=Path, default=None, help="private key of --tls-cert (PEM)")
    tls.add_argument(
        "--tls-client-ca",
        type=Path,
        default=None,
        help="CA bundle (PEM) for mutual TLS: clients must present a certificate it signed",
    )
    auth = parser.add_argument_group("authentication (off when neither is given)")
    auth.add_argument(
        "--auth-file",
        type=Path,
        default=None,
        help="TOML file of [tokens.NAME] tables with sha256 and scopes",
    )
    auth.add_argument(
        "--auth-tokens",
        default="",
        metavar="NAME:SCOPES:SHA256 ...",
        help="tokens inline (for one environment variable): NAME:SCOPE[,SCOPE...]:SHA256, space-separated",
    )


def _add_client_security_options(parser: argparse.ArgumentParser) -> None:
    """How client commands and workers reach the server. Defaults come from the environment
    when the command runs (SUPPRESS here, so nested subcommands do not reset a given value)."""
    group = parser.add_argument_group("connection security (defaults from JOBSVC_TOKEN, JOBSVC_TLS_*)")
    group.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help="bearer token (env JOBSVC_TOKEN; prefer the environment: arguments show in ps)",
    )
    group.add_argument("--tls", action="store_true", default=argparse.SUPPRESS, help="TLS with the system's CAs")
    group.add_argument("--tls-ca", type=Path, default=argparse.SUPPRESS, help="TLS trusting this CA (PEM)")
    group.add_argument("--tls-cert", type=Path, default=argparse.SUPPRESS, help="client certificate for mutual TLS")
    group.add_argument("--tls-key", type=Path, default=argparse.SUPPRESS, help="key of the client certificate")
    group.add_argument("--tls-server-name", default=argparse.SUPPRESS, help="name expected in the server's certificate")


def _client_security(args: argparse.Namespace) -> ClientSecurity:
    return ClientSecurity.from_env(
        token=getattr(args, "token", None),
        ca=getattr(args, "tls_ca", None),
        tls=getattr(args, "tls", None),
        cert=getattr(args, "tls_cert", None),
        key=getattr(args, "tls_key", None),
        server_name=getattr(args, "tls_server_name", None),
    )


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handler", help="handler name")
    parser.add_argument(
        "input", nargs="?", default="null", help="input as JSON text, @FILE, or - for standard input (default: null)"
    )
    parser.add_argument("--version", default="", help="version selector: 1.4.0, ^2, ~1.4, '>=1.2 <2'")
    parser.add_argument("--priority", type=int, default=0)
    parser.add_argument("--idempotency-key", default="")
    parser.add_argument("--delay", type=float, default=None, help="seconds before the job may start")
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = argparse.ArgumentParser(prog="jobsvc", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--server", default=DEFAULT_SERVER, help="host:port of a jobsvc server (client commands)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    commands = parser.add_subparsers(dest="command", required=True)
    # --server is also accepted after the command (`jobsvc health --server H:P`).
    server_option = argparse.ArgumentParser(add_help=False)
    server_option.add_argument("--server", default=argparse.SUPPRESS, help="host:port of a jobsvc server")
    _add_client_security_options(server_option)
    _add_process_commands(commands)
    _add_job_commands(commands, [server_option])
    _add_admin_commands(commands, [server_option])
    return parser


def _add_process_commands(commands: Any) -> None:
    """serve, worker, migrate: the long-running processes and the schema."""
    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--host", default="0.0.0.0", help="gRPC listen address")
    serve.add_argument("--port", type=int, default=50051, help="gRPC listen port")
    _add_database_options(serve)
    serve.add_argument(
        "--handlers",
        action="append",
        default=[],
        metavar="MODULE",
        help="Python module with @handler functions (repeatable; env and file: a list)",
    )
    serve.add_argument("--concurrency", type=int, default=16, help="jobs run at once by this process")
    serve.add_argument("--pool-size", type=int, default=ServerConfig.pool_size, help="database connections")
    _add_lifecycle_options(serve)
    _add_connection_options(serve)
    _add_observability_options(serve)
    _add_security_options(serve)
    _add_config_options(serve)

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
    worker.add_argument("--concurrency", type=int, default=16, help="jobs run at once by this worker")
    worker.add_argument("--worker-id", default=None, help="default host:pid")
    worker.add_argument("--lease", type=float, default=30.0, help="lease length in seconds")
    worker.add_argument("--shutdown-grace", type=float, default=10.0, help="seconds running jobs get on SIGTERM")
    _add_observability_options(worker, metrics=False)
    _add_client_security_options(worker)
    _add_config_options(worker)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    _add_database_options(migrate)
    _add_config_options(migrate)

    token = commands.add_parser("token", help="make tokens and their hashes for --auth-file")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    token_commands.add_parser("hash", help="print the SHA-256 of a token read from standard input")
    new = token_commands.add_parser("new", help="print a new random token and its [tokens.NAME] table")
    new.add_argument("name")
    new.add_argument("--scope", action="append", required=True, choices=sorted(SCOPES))


def _add_lifecycle_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--shutdown-grace",
        type=float,
        default=10.0,
        help="seconds running jobs and open RPCs get on SIGTERM (after the drain delay); then jobs are requeued",
    )
    serve.add_argument(
        "--drain-delay",
        type=float,
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
        "--database-timeout",
        type=float,
        default=ServerConfig.database_timeout,
        help="seconds a health check or a request waits for the database before it counts as unreachable "
        "(health NOT_SERVING, requests UNAVAILABLE)",
    )


def _add_connection_options(serve: argparse.ArgumentParser) -> None:
    defaults = ConnectionConfig()
    serve.add_argument(
        "--keepalive-time", type=float, default=defaults.keepalive_time, help="seconds before pinging an idle client"
    )
    serve.add_argument(
        "--keepalive-timeout",
        type=float,
        default=defaults.keepalive_timeout,
        help="seconds to wait for a ping's answer before closing the connection",
    )
    serve.add_argument(
        "--keepalive-permit-without-calls",
        action=argparse.BooleanOptionalAction,
        default=defaults.keepalive_permit_without_calls,
        help="let clients ping while no RPC is open",
    )
    serve.add_argument(
        "--min-ping-interval",
        type=float,
        default=defaults.min_ping_interval,
        help="seconds: clients pinging more often get GOAWAY too_many_pings",
    )
    serve.add_argument(
        "--max-connection-age",
        type=float,
        default=defaults.max_connection_age,
        help="seconds before a connection is asked to reconnect (GOAWAY; rebalances behind a layer-4 "
        "balancer); 0: never",
    )
    serve.add_argument(
        "--max-connection-age-grace",
        type=float,
        default=defaults.max_connection_age_grace,
        help="seconds open RPCs get after that GOAWAY",
    )
    serve.add_argument(
        "--max-message-bytes",
        type=int,
        default=defaults.max_message_bytes,
        help="largest request or response; larger requests get RESOURCE_EXHAUSTED",
    )
    serve.add_argument(
        "--max-payload-bytes",
        type=int,
        default=defaults.max_payload_bytes,
        help="largest input, result or partial output of a job, encoded (larger inputs get RESOURCE_EXHAUSTED, "
        "larger results and outputs fail the attempt); not set: 7/16 of --max-message-bytes (1835008 of 4 MiB), "
        "also the most it may be",
    )
    serve.add_argument(
        "--max-concurrent-streams",
        type=int,
        default=defaults.max_concurrent_streams,
        help="RPCs open at once per connection (more wait in the client); 0: grpc's default",
    )


def _add_job_commands(commands: Any, client: list[argparse.ArgumentParser]) -> None:
    """submit, call, watch, jobs: what callers do."""
    _add_job_options(commands.add_parser("submit", help="enqueue a job; prints it", parents=client))
    call = commands.add_parser("call", help="run a job and wait for its result", parents=client)
    _add_job_options(call)
    call.add_argument("--timeout", type=float, default=None, help="seconds to wait")

    watch = commands.add_parser("watch", help="follow a job's progress and output", parents=client)
    watch.add_argument("job_id", nargs="?")
    watch.add_argument("--submit", nargs="+", metavar=("HANDLER", "INPUT"), help="submit, then watch")
    watch.add_argument("--version", default="")
    watch.add_argument("--after", type=int, default=0, help="resume after this sequence number")
    watch.add_argument("--json", action="store_true", help="print events as JSON lines")

    jobs = commands.add_parser("jobs", help="list, get or cancel jobs").add_subparsers(
        dest="jobs_command", required=True
    )
    listing = jobs.add_parser("list", parents=client)
    listing.add_argument(
        "--state",
        action="append",
        default=[],
        choices=[v.name.removeprefix("JOB_STATE_").lower() for v in job_pb2.JobState.DESCRIPTOR.values if v.number],
    )
    listing.add_argument("--handler", default="")
    listing.add_argument("--page-size", type=int, default=50)
    listing.add_argument("--page-token", default="")
    _add_view_option(listing)
    get = jobs.add_parser("get", parents=client)
    get.add_argument("job_id")
    _add_view_option(get)
    cancel = jobs.add_parser("cancel", parents=client)
    cancel.add_argument("job_id")
    cancel.add_argument("--reason", default="")


def _add_view_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--view",
        choices=["basic", "full"],
        default=None,
        help="basic: without inputs, results and tracebacks; full: everything (the server's default)",
    )


def _view(args: argparse.Namespace) -> job_service_pb2.JobView.ValueType:
    if args.view is None:
        return job_service_pb2.JOB_VIEW_UNSPECIFIED
    return job_service_pb2.JobView.Value(f"JOB_VIEW_{args.view.upper()}")


def _add_admin_commands(commands: Any, client: list[argparse.ArgumentParser]) -> None:
    """dlq, health, handlers: operating the service."""
    dlq = commands.add_parser("dlq", help="dead-lettered (failed) jobs: list and redrive", parents=client)
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_commands.add_parser("list", parents=client)
    dlq_list.add_argument("--handler", default="")
    dlq_list.add_argument("--page-size", type=int, default=50)
    dlq_list.add_argument("--page-token", default="")
    _add_view_option(dlq_list)
    redrive = dlq_commands.add_parser("redrive", parents=client, help="re-run one job, or all of a handler's")
    target = redrive.add_mutually_exclusive_group(required=True)
    target.add_argument("--job", dest="job_id")
    target.add_argument("--handler")
    redrive.add_argument("--version", default="", help="with --handler: only this exact version")

    health = commands.add_parser("health", help="exit 0 if the server reports SERVING (for probes)", parents=client)
    health.add_argument("--service", default="", help="one service's status (default: the whole server)")
    health.add_argument("--timeout", type=float, default=3.0)

    handlers = commands.add_parser("handlers", help="list handler versions and their schemas", parents=client)
    handlers.add_argument("name", nargs="?", default="")

    schedules = commands.add_parser("schedules", help="cron and interval schedules that submit jobs", parents=client)
    schedule_commands = schedules.add_subparsers(dest="schedules_command", required=True)
    create = schedule_commands.add_parser("create", parents=client, help="submit a job on a cron or an interval")
    create.add_argument("name")
    _add_job_options(create)
    timing = create.add_mutually_exclusive_group(required=True)
    timing.add_argument("--cron", help="five fields: minute hour day-of-month month day-of-week (no seconds)")
    timing.add_argument("--every", type=float, metavar="SECONDS", help="a fixed interval")
    create.add_argument("--time-zone", default="", help="IANA time zone of --cron (default UTC)")
    create.add_argument("--missed-ticks", choices=["skip", "run_once"], default="skip")
    create.add_argument("--paused", action="store_true")
    schedule_commands.add_parser("list", parents=client)
    for verb in ("get", "pause", "resume", "delete"):
        schedule_commands.add_parser(verb, parents=client).add_argument("name")


def _read_input(text: str) -> Any:
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"input is not valid JSON: {exc}") from None


def _job_options(args: argparse.Namespace) -> dict[str, Any]:
    labels = dict(label.split("=", 1) for label in args.label if "=" in label)
    return {
        "version": args.version,
        "priority": args.priority,
        "idempotency_key": args.idempotency_key,
        "delay": args.delay,
        "labels": labels,
    }


def _print(message: Message, out: TextIO = sys.stdout) -> None:
    out.write(json_format.MessageToJson(message, preserving_proto_field_name=True, indent=2) + "\n")


# -- serve / migrate ---------------------------------------------------------------


def server_config(args: argparse.Namespace) -> ServerConfig:
    """The ServerConfig that `jobsvc serve` options describe."""
    return ServerConfig(
        host=args.host,
        port=args.port,
        database_url=args.database_url,
        data_dir=args.data_dir,
        handler_modules=args.handlers,
        shutdown_grace=args.shutdown_grace,
        drain_delay=args.drain_delay,
        health_interval=args.health_interval,
        database_timeout=args.database_timeout,
        pool_size=args.pool_size,
        executor=ExecutorConfig(concurrency=args.concurrency),
        observability=_observability_config(args),
        connection=ConnectionConfig(
            keepalive_time=args.keepalive_time,
            keepalive_timeout=args.keepalive_timeout,
            keepalive_permit_without_calls=args.keepalive_permit_without_calls,
            min_ping_interval=args.min_ping_interval,
            max_connection_age=args.max_connection_age,
            max_connection_age_grace=args.max_connection_age_grace,
            max_message_bytes=args.max_message_bytes,
            max_payload_bytes=args.max_payload_bytes,
            max_concurrent_streams=args.max_concurrent_streams,
        ),
        tls=TlsConfig(cert=args.tls_cert, key=args.tls_key, client_ca=args.tls_client_ca),
        auth=AuthConfig(tokens_file=args.auth_file, tokens=args.auth_tokens),
    )


async def _serve(args: argparse.Namespace) -> int:
    config = server_config(args)
    try:  # configuration mistakes as one line, before anything starts
        config.tls.check()
        config.connection.check()
        if config.tls.enabled:
            config.tls.credentials()
        config.auth.load()
    except (ValueError, OSError) as exc:
        print(f"jobsvc serve: {exc}", file=sys.stderr)
        return 2
    server = JobsvcServer(config)
    try:
        await server.start()
    except TracingUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        signals.append(sig)
        if stop_requested.is_set():
            server.cut_drain_delay()  # a second signal: stop waiting for balancers
        stop_requested.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    for definition in server.table:
        print(f"serving handler {definition.name} {definition.version}", flush=True)
    if not len(server.table):
        print("serving no handlers (add --handlers MODULE); jobs wait for a process that serves them", flush=True)
    if server.metrics_port is not None:
        print(f"metrics on http://{config.observability.metrics_host}:{server.metrics_port}/metrics", flush=True)
    # Last: tools wait for this line to know the server is ready.
    print(f"jobsvc listening on {server.address}", flush=True)
    await stop_requested.wait()
    # Ctrl-C comes from a terminal, where no balancer waits to notice.
    drain = 0.0 if signals[0] == signal.SIGINT else args.drain_delay
    print(f"jobsvc stopping: health NOT_SERVING, draining (new RPCs taken for {drain:g}s more)", flush=True)
    await server.stop(drain_delay=drain)
    print("jobsvc stopped", flush=True)
    return 0


async def _migrate(args: argparse.Namespace) -> int:
    embedded = None
    url = args.database_url
    if url is None:
        data_dir = args.data_dir or default_data_dir()
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        embedded = EmbeddedPostgres(data_dir)
        url = await asyncio.to_thread(embedded.start)
    try:
        pool = await create_pool(url, min_size=1, max_size=1)
        try:
            applied = await PgStore(pool).migrate()
        finally:
            await pool.close()
    finally:
        if embedded is not None:
            embedded.stop()
    print(f"applied migrations: {applied}" if applied else "schema is up to date")
    return 0


# -- client commands ---------------------------------------------------------------


async def _submit(client: Client, args: argparse.Namespace) -> int:
    _print(await client.submit(args.handler, _read_input(args.input), **_job_options(args)))
    return 0


async def _call(client: Client, args: argparse.Namespace) -> int:
    job = await client.call(args.handler, _read_input(args.input), timeout=args.timeout, **_job_options(args))
    _print(job)
    return 0 if job.state == job_pb2.JOB_STATE_SUCCEEDED else 1


class _EventPrinter:
    """Renders events for a terminal: a progress bar redrawn in place, other events on lines of their own."""

    BAR_WIDTH = 30

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._bar_showing = False

    def show(self, event: job_pb2.JobEvent) -> None:
        kind = event.WhichOneof("kind")
        if kind == "progress":
            filled = round(self.BAR_WIDTH * event.progress.percent / 100)
            bar = "#" * filled + "." * (self.BAR_WIDTH - filled)
            self._out.write(f"\r[{bar}] {event.progress.percent:5.1f}% {event.progress.message}")
            self._bar_showing = True
        else:
            if self._bar_showing:
                self._out.write("\n")
                self._bar_showing = False
            self._out.write(self._describe(event, str(kind)) + "\n")
        self._out.flush()

    @staticmethod
    def _describe(event: job_pb2.JobEvent, kind: str) -> str:
        if kind == "queued":
            return f"queued {event.job_id} ({event.queued.handler} {event.queued.version})"
        if kind == "started":
            return f"started (attempt {event.started.attempt} on {event.started.executor})"
        if kind == "partial_output":
            return f"output: {json.dumps(payload_value(event.partial_output.output))}"
        if kind == "succeeded":
            return f"succeeded: {json.dumps(payload_value(event.succeeded.result))}"
        if kind == "failed":
            return f"failed: {event.failed.error.type}: {event.failed.error.message}"
        return f"{kind}: {getattr(event, kind).reason}"


async def _watch(client: Client, args: argparse.Namespace) -> int:
    if args.submit:
        handler, *rest = args.submit
        events = client.stream(submit=job_spec(handler, _read_input(rest[0] if rest else "null"), version=args.version))
    elif args.job_id:
        events = client.stream(args.job_id, after_sequence=args.after)
    else:
        raise SystemExit("watch needs a JOB_ID or --submit HANDLER [INPUT]")
    last = ""
    printer = _EventPrinter(sys.stdout)
    async for event in events:
        last = str(event.WhichOneof("kind"))
        if args.json:
            sys.stdout.write(json_format.MessageToJson(event, indent=None) + "\n")
        else:
            printer.show(event)
    return 0 if last == "succeeded" else 1


async def _jobs(client: Client, args: argparse.Namespace) -> int:
    if args.jobs_command == "list":
        states = [job_pb2.JobState.Value(f"JOB_STATE_{s.upper()}") for s in args.state]
        _print(
            await client.list_jobs(
                states=states,
                handler=args.handler,
                page_size=args.page_size,
                page_token=args.page_token,
                view=_view(args),
            )
        )
    elif args.jobs_command == "get":
        _print(await client.get(args.job_id, view=_view(args)))
    else:
        _print(await client.cancel(args.job_id, args.reason))
    return 0


async def _dlq(client: Client, args: argparse.Namespace) -> int:
    if args.dlq_command == "list":
        _print(
            await client.list_jobs(
                states=[job_pb2.JOB_STATE_FAILED],
                handler=args.handler,
                page_size=args.page_size,
                page_token=args.page_token,
                view=_view(args),
            )
        )
    elif args.job_id:
        _print(await client.redrive(args.job_id))
    else:
        ids = await client.redrive_all(args.handler, version=args.version)
        print(json.dumps({"redriven": len(ids), "job_ids": ids}, indent=2))
    return 0


async def _handlers(client: Client, args: argparse.Namespace) -> int:
    for info in await client.handlers(args.name):
        _print(info)
    return 0


def _token(args: argparse.Namespace) -> int:
    if args.token_command == "hash":
        # getpass reads a terminal without echo; a pipe is read as it is.
        secret = getpass.getpass("token: ") if sys.stdin.isatty() else sys.stdin.readline()
        print(token_digest(secret.strip()))
        return 0
    secret = secrets.token_urlsafe(32)
    print(f"# token for {args.name} (shown once; the server keeps only its hash):", file=sys.stderr)
    print(secret, file=sys.stderr)
    print(f'[tokens.{args.name}]\nsha256 = "{token_digest(secret)}"\nscopes = {json.dumps(sorted(args.scope))}')
    return 0


async def _health(args: argparse.Namespace) -> int:
    async with _client_security(args).channel(args.server) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = await stub.Check(health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout)
        except grpc.aio.AioRpcError as exc:
            print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    print(status)
    return 0 if response.status == health_pb2.HealthCheckResponse.SERVING else 1


async def _schedules(client: Client, args: argparse.Namespace) -> int:
    command = args.schedules_command
    if command == "create":
        options = _job_options(args)
        if options.pop("idempotency_key") or options.pop("delay") is not None:
            raise SystemExit("a schedule sets --idempotency-key and --delay per tick")
        _print(
            await client.create_schedule(
                args.name,
                args.handler,
                _read_input(args.input),
                cron=args.cron,
                every=args.every,
                time_zone=args.time_zone,
                missed_ticks=args.missed_ticks,
                paused=args.paused,
                **options,
            )
        )
    elif command == "list":
        for schedule in await client.list_schedules():
            timing = schedule.cron or f"every {schedule.interval.ToTimedelta().total_seconds():g}s"
            state = "paused" if schedule.paused else f"next {schedule.next_tick_time.ToDatetime().isoformat()}Z"
            print(f"{schedule.name}\t{schedule.job.handler} {schedule.job.version or 'latest'}\t{timing}\t{state}")
    elif command == "get":
        _print(await client.get_schedule(args.name))
    elif command == "pause":
        _print(await client.pause_schedule(args.name))
    elif command == "resume":
        _print(await client.resume_schedule(args.name))
    else:
        await client.delete_schedule(args.name)
        print(f"deleted schedule {args.name}")
    return 0


CLIENT_COMMANDS: dict[str, Callable[[Client, argparse.Namespace], Awaitable[int]]] = {
    "submit": _submit,
    "call": _call,
    "watch": _watch,
    "jobs": _jobs,
    "handlers": _handlers,
    "dlq": _dlq,
    "schedules": _schedules,
}


async def _work(args: argparse.Namespace, config: WorkerConfig) -> int:
    provider = None
    if args.trace_exporter != "none":
        try:
            provider = build_provider(args.trace_exporter, args.trace_endpoint, "jobsvc-worker")
        except TracingUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        trace.set_tracer_provider(provider)  # handlers' own spans are exported too
    try:
        await run_worker(
            args.worker_server, args.handlers, config, tracer_provider=provider, security=_client_security(args)
        )
    except grpc.aio.AioRpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2
    finally:
        if provider is not None:
            provider.shutdown()
    return 0


async def _run(args: argparse.Namespace) -> int:
    if getattr(args, "print_config", False):
        sys.stdout.write(options.render_toml(args.effective_config, f"jobsvc {args.command}"))
        return 0
    if args.command == "serve":
        return await _serve(args)
    if args.command == "migrate":
        return await _migrate(args)
    if args.command == "worker":
        config = WorkerConfig(
            concurrency=args.concurrency, lease_seconds=args.lease, shutdown_grace=args.shutdown_grace
        )
        if args.worker_id:
            config = replace(config, worker_id=args.worker_id)
        return await _work(args, config)
    if args.command == "health":
        return await _health(args)
    async with Client(args.server, security=_client_security(args)) as client:
        try:
            return await CLIENT_COMMANDS[args.command](client, args)
        except grpc.aio.AioRpcError as exc:
            details = error_details(exc)
            print(f"error: {details.code.name}: {details.message}", file=sys.stderr)
            for field, description in details.field_violations:
                print(f"  {field}: {description}", file=sys.stderr)
            return 2


# Commands whose every option also comes from JOBSVC_* variables and a --config file.
LAYERED_COMMANDS = ("serve", "worker", "migrate")


def parse_args(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> argparse.Namespace:
    """The command line, completed from the environment and the config file (see jobsvc.options)."""
    return options.parse(build_parser(), argv, os.environ if environ is None else environ, layered=LAYERED_COMMANDS)


def config_reference(command: str) -> str:
    """The Markdown table of a command's options (or of the global ones: command "jobsvc")."""
    parser = build_parser()
    target = parser if command == "jobsvc" else options.subcommands(parser)[command]
    return options.markdown_table(options.layered_actions(target))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `jobsvc` command."""
    args = parse_args(argv)
    if args.command == "token":
        return _token(args)
    configure_logging(args.log_level, getattr(args, "log_format", "text"))
    try:
        return (uvloop.run if uvloop is not None else asyncio.run)(_run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `jobsvc jobs list | head`: the reader left; not an error
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
