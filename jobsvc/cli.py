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
import logging
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jobsvc.api.auth import SCOPES, AuthConfig, token_digest
from jobsvc.client import Client, ClientSecurity, error_details, job_spec, payload_value
from jobsvc.executor import ExecutorConfig
from jobsvc.server import JobsvcServer, ServerConfig, TlsConfig, default_data_dir
from jobsvc.store.embedded import EmbeddedPostgres
from jobsvc.store.postgres import PgStore, create_pool
from jobsvc.v1 import job_pb2
from jobsvc.worker import WorkerConfig, run_worker

uvloop: ModuleType | None
try:
    import uvloop
except ImportError:  # optional: uvloop serves gRPC ~40% faster, plain asyncio works too
    uvloop = None

DEFAULT_SERVER = "127.0.0.1:50051"
TERMINAL_KINDS = ("succeeded", "failed", "cancelled")


def _add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get("JOBSVC_DATABASE_URL"),
        help="PostgreSQL URL (env JOBSVC_DATABASE_URL); embedded PostgreSQL when absent",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=os.environ.get("JOBSVC_DATA_DIR"),
        help=f"embedded PostgreSQL data directory (default {default_data_dir()})",
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
    parser.add_argument(
        "--server",
        default=os.environ.get("JOBSVC_SERVER", DEFAULT_SERVER),
        help=f"host:port of a jobsvc server (env JOBSVC_SERVER, default {DEFAULT_SERVER})",
    )
    parser.add_argument("--log-level", default=os.environ.get("JOBSVC_LOG_LEVEL", "INFO"))
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
    serve.add_argument("--host", default=os.environ.get("JOBSVC_HOST", "0.0.0.0"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("JOBSVC_PORT", "50051")))
    _add_database_options(serve)
    serve.add_argument(
        "--handlers",
        action="append",
        default=[],
        metavar="MODULE",
        help="Python module with @handler functions (repeatable)",
    )
    serve.add_argument("--concurrency", type=int, default=16, help="jobs run at once by this process")
    serve.add_argument(
        "--shutdown-grace",
        type=float,
        default=10.0,
        help="seconds running jobs get to finish on SIGTERM before they are requeued",
    )
    _add_security_options(serve)

    worker = commands.add_parser("worker", help="run handlers as a remote worker of a jobsvc server")
    worker.add_argument(
        "--server",
        dest="worker_server",
        default=os.environ.get("JOBSVC_SERVER", DEFAULT_SERVER),
        help="host:port of a jobsvc server or balancer",
    )
    worker.add_argument(
        "--handlers",
        action="append",
        default=[],
        metavar="MODULE",
        required=True,
        help="Python module with @handler functions (repeatable)",
    )
    worker.add_argument("--concurrency", type=int, default=16)
    worker.add_argument("--worker-id", default=None, help="default host:pid")
    worker.add_argument("--lease", type=float, default=30.0, help="lease length in seconds")
    worker.add_argument("--shutdown-grace", type=float, default=10.0)
    _add_client_security_options(worker)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    _add_database_options(migrate)

    token = commands.add_parser("token", help="make tokens and their hashes for --auth-file")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    token_commands.add_parser("hash", help="print the SHA-256 of a token read from standard input")
    new = token_commands.add_parser("new", help="print a new random token and its [tokens.NAME] table")
    new.add_argument("name")
    new.add_argument("--scope", action="append", required=True, choices=sorted(SCOPES))


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
    jobs.add_parser("get", parents=client).add_argument("job_id")
    cancel = jobs.add_parser("cancel", parents=client)
    cancel.add_argument("job_id")
    cancel.add_argument("--reason", default="")


def _add_admin_commands(commands: Any, client: list[argparse.ArgumentParser]) -> None:
    """dlq, health, handlers: operating the service."""
    dlq = commands.add_parser("dlq", help="dead-lettered (failed) jobs: list and redrive", parents=client)
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_commands.add_parser("list", parents=client)
    dlq_list.add_argument("--handler", default="")
    dlq_list.add_argument("--page-size", type=int, default=50)
    dlq_list.add_argument("--page-token", default="")
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


async def _serve(args: argparse.Namespace) -> int:
    config = ServerConfig(
        host=args.host,
        port=args.port,
        database_url=args.database_url,
        data_dir=args.data_dir,
        handler_modules=args.handlers,
        shutdown_grace=args.shutdown_grace,
        executor=ExecutorConfig(concurrency=args.concurrency),
        tls=TlsConfig(cert=args.tls_cert, key=args.tls_key, client_ca=args.tls_client_ca),
        auth=AuthConfig(tokens_file=args.auth_file, tokens=args.auth_tokens),
    )
    try:  # configuration mistakes as one line, before anything starts
        config.tls.check()
        if config.tls.enabled:
            config.tls.credentials()
        config.auth.load()
    except (ValueError, OSError) as exc:
        print(f"jobsvc serve: {exc}", file=sys.stderr)
        return 2
    server = JobsvcServer(config)
    await server.start()
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    for definition in server.table:
        print(f"serving handler {definition.name} {definition.version}", flush=True)
    if not len(server.table):
        print("serving no handlers (add --handlers MODULE); jobs wait for a process that serves them", flush=True)
    # Last: tools wait for this line to know the server is ready.
    print(f"jobsvc listening on {server.address}", flush=True)
    await stop_requested.wait()
    print("jobsvc stopping: draining", flush=True)
    await server.stop()
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
                states=states, handler=args.handler, page_size=args.page_size, page_token=args.page_token
            )
        )
    elif args.jobs_command == "get":
        _print(await client.get(args.job_id))
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


CLIENT_COMMANDS: dict[str, Callable[[Client, argparse.Namespace], Awaitable[int]]] = {
    "submit": _submit,
    "call": _call,
    "watch": _watch,
    "jobs": _jobs,
    "handlers": _handlers,
    "dlq": _dlq,
}


async def _run(args: argparse.Namespace) -> int:
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
        try:
            await run_worker(args.worker_server, args.handlers, config, _client_security(args))
        except grpc.aio.AioRpcError as exc:
            print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 2
        return 0
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `jobsvc` command."""
    args = build_parser().parse_args(argv)
    if args.command == "token":
        return _token(args)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
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
