"""Running each `jobsvc` command: service.py runs the service (serve, worker, migrate,
token), client.py calls it (submit, call, watch, jobs, dlq, handlers, schedules, health)."""

from __future__ import annotations

import argparse
import sys

from jobsvc import options
from jobsvc.cli.commands.client import call_server, health
from jobsvc.cli.commands.service import migrate, serve, token, work

__all__ = ["run", "token"]


async def run(args: argparse.Namespace) -> int:
    """Run a parsed command (every one but token, which needs no event loop); its exit code."""
    if getattr(args, "print_config", False):
        sys.stdout.write(options.render_toml(args.effective_config, f"jobsvc {args.command}"))
        return 0
    if args.command == "serve":
        return await serve(args)
    if args.command == "migrate":
        return await migrate(args)
    if args.command == "worker":
        return await work(args)
    if args.command == "health":
        return await health(args)
    return await call_server(args)
