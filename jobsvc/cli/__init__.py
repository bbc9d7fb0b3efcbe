"""The `jobsvc` command: run the service, and talk to it.

jobsvc serve --handlers mypkg.jobs            # embedded PostgreSQL unless a URL is given
jobsvc call resize_image '{"width": 64}' --version '^2'
jobsvc watch --submit steps '{"count": 5}'

parser/ builds the command line, config.py turns its options into configs, commands/
runs each command.
"""

from __future__ import annotations

import asyncio
import os
import sys
from types import ModuleType

from jobsvc.cli.commands import run, token
from jobsvc.cli.config import log_format, observability_config, server_config
from jobsvc.cli.parser import build_parser, config_reference, parse_args
from jobsvc.observability.logs import configure_logging

uvloop: ModuleType | None
try:
    import uvloop
except ImportError:  # optional: uvloop serves gRPC ~40% faster, plain asyncio works too
    uvloop = None

# The name tests/e2e/test_metrics.py imports (this was a private function of jobsvc/cli.py).
_observability_config = observability_config

__all__ = ["build_parser", "config_reference", "main", "observability_config", "parse_args", "server_config"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `jobsvc` command."""
    args = parse_args(argv)
    # As given: `serve --processes N` starts its children with it.
    args.command_line = list(sys.argv[1:] if argv is None else argv)
    if args.command == "token":
        return token(args)
    configure_logging(args.log_level, log_format(args))
    try:
        return (uvloop.run if uvloop is not None else asyncio.run)(run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `jobsvc jobs list | head`: the reader left; not an error
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
