"""The `jobsvc` command line: every command's options and their help, and parsing it
with the environment and a config file (jobsvc.options).

service.py holds the options of serve, worker, migrate and token, whose defaults come
from the config dataclasses; client.py those of the commands that call a server.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from jobsvc import options
from jobsvc.cli.parser.client import DEFAULT_SERVER, add_client_commands
from jobsvc.cli.parser.service import add_service_commands

DESCRIPTION = "The `jobsvc` command: run the service, and talk to it."
# Commands whose every option also comes from JOBSVC_* variables and a --config file.
LAYERED_COMMANDS = ("serve", "worker", "migrate")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = argparse.ArgumentParser(prog="jobsvc", description=DESCRIPTION)
    parser.add_argument("--server", default=DEFAULT_SERVER, help="host:port of a jobsvc server (client commands)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    commands = parser.add_subparsers(dest="command", required=True)
    add_service_commands(commands)
    add_client_commands(commands)
    _whole_names_only(parser)
    return parser


def _whole_names_only(parser: argparse.ArgumentParser) -> None:
    """Options only by their whole names, in every command. argparse takes any unique
    prefix by default, so `serve --listen 127.0.0.1:8000` (no such option) quietly set
    --listen-database-url; an unknown option must be an error."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                _whole_names_only(command)


def parse_args(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> argparse.Namespace:
    """The command line, completed from the environment and the config file (see jobsvc.options)."""
    return options.parse(build_parser(), argv, os.environ if environ is None else environ, layered=LAYERED_COMMANDS)


def config_reference(command: str) -> str:
    """The Markdown table of a command's options (or of the global ones: command "jobsvc")."""
    parser = build_parser()
    target = parser if command == "jobsvc" else options.subcommands(parser)[command]
    return options.markdown_table(options.layered_actions(target))
