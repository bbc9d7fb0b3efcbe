"""Running the commands that run the service: serve, worker, migrate, token."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import secrets
import signal
import sys

import grpc
from opentelemetry import trace

from jobsvc.api.auth import token_digest
from jobsvc.cli.commands.processes import READY_LINE, serve_processes, when_parent_gone
from jobsvc.cli.config import client_security, observability_config, server_config, worker_config
from jobsvc.observability.tracing import TracingUnavailable, build_provider
from jobsvc.sdk import run_worker
from jobsvc.server import JobsvcServer, default_data_dir
from jobsvc.store.embedded import EmbeddedPostgres
from jobsvc.store.postgres import PgStore, create_pool


async def serve(args: argparse.Namespace) -> int:
    """`jobsvc serve`: run the server until SIGTERM or SIGINT (with --processes N, N of
    them: see jobsvc.cli.commands.processes)."""
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
    if args.processes > 1:
        return await serve_processes(args, args.command_line)
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
    # A child of --processes whose parent was killed stops as if it had passed SIGTERM on.
    orphaned = when_parent_gone(lambda: on_signal(signal.SIGTERM))
    for definition in server.table:
        print(f"serving handler {definition.name} {definition.version}", flush=True)
    if not len(server.table):
        print("serving no handlers (add --handlers MODULE); jobs wait for a process that serves them", flush=True)
    if server.metrics_port is not None:
        print(f"metrics on http://{config.observability.metrics_host}:{server.metrics_port}/metrics", flush=True)
    # Last: tools wait for this line to know the server is ready.
    print(f"{READY_LINE}{server.address}", flush=True)
    await stop_requested.wait()
    orphaned.cancel()
    # Ctrl-C comes from a terminal, where no balancer waits to notice.
    drain = 0.0 if signals[0] == signal.SIGINT else config.drain_delay
    print(f"jobsvc stopping: health NOT_SERVING, draining (new RPCs taken for {drain:g}s more)", flush=True)
    await server.stop(drain_delay=drain)
    print("jobsvc stopped", flush=True)
    return 0


async def migrate(args: argparse.Namespace) -> int:
    """`jobsvc migrate`: apply the migrations the database lacks (starting the embedded one if no URL)."""
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


async def work(args: argparse.Namespace) -> int:
    """`jobsvc worker`: serve the handler modules to a server until SIGTERM."""
    observability = observability_config(args)
    provider = None
    if observability.trace_exporter != "none":
        try:
            provider = build_provider(observability.trace_exporter, observability.trace_endpoint, "jobsvc-worker")
        except TracingUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        trace.set_tracer_provider(provider)  # handlers' own spans are exported too
    try:
        await run_worker(
            args.worker_server,
            args.handlers,
            worker_config(args),
            tracer_provider=provider,
            security=client_security(args),
        )
    except grpc.aio.AioRpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2
    finally:
        if provider is not None:
            provider.shutdown()
    return 0


def token(args: argparse.Namespace) -> int:
    """`jobsvc token hash` and `jobsvc token new`: tokens and their hashes for --auth-file."""
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
