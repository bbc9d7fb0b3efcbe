"""Runs one jobsvc server for the benchmark, in its own process.

    python -m bench.serve --database-url URL [--port 0] [--concurrency 16]

Prints ``READY <port>`` on stdout once the server is SERVING, then runs until SIGTERM or
SIGINT and stops it gracefully. Kept separate from ``jobsvc serve`` so the harness does
not depend on the CLI's flags, and so the executor can be tuned per scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.executor import ExecutorConfig
from jobsvc.observability import ObservabilityConfig
from jobsvc.server import JobsvcServer, ServerConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed in READY)")
    parser.add_argument("--database-url", required=True)
    parser.add_argument(
        "--handlers", action="append", default=None, help="handler module (repeatable); default bench.handlers"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=ExecutorConfig.concurrency,
        help="jobs run at once by the in-process executor",
    )
    parser.add_argument("--claim-batch", type=int, default=ExecutorConfig.claim_batch)
    parser.add_argument("--pool-size", type=int, default=ServerConfig.pool_size)
    parser.add_argument("--shutdown-grace", type=float, default=2.0)
    parser.add_argument("--no-uvloop", action="store_true", help="use the default asyncio loop")
    parser.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics (0: a free port)")
    parser.add_argument(
        "--history-after",
        type=float,
        default=MaintenanceConfig.history_after,
        help="seconds before a finished job moves to the history",
    )
    return parser.parse_args(argv)


def server_config(args: argparse.Namespace) -> ServerConfig:
    """The ServerConfig the options describe."""
    return ServerConfig(
        host=args.host,
        port=args.port,
        database_url=args.database_url,
        handler_modules=args.handlers or ["bench.handlers"],
        executor=ExecutorConfig(concurrency=args.concurrency, claim_batch=args.claim_batch),
        pool_size=args.pool_size,
        shutdown_grace=args.shutdown_grace,
        observability=ObservabilityConfig(metrics_port=args.metrics_port, metrics_host="127.0.0.1"),
        maintenance=MaintenanceConfig(history_after=args.history_after),
    )


async def serve(config: ServerConfig) -> None:
    """Start the server, announce its port, and stop it on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = JobsvcServer(config)
    await server.start()
    try:
        print(f"READY {server.port}", flush=True)
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.no_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            uvloop.install()
    asyncio.run(serve(server_config(args)))


if __name__ == "__main__":
    main()
