"""Options of the commands that call a server: submit, call, watch, jobs, dlq, health,
handlers, schedules, workflow, pause, resume, bulk, operations; and how every client (workers
too) reaches the server."""

from __future__ import annotations

import argparse
from pathlib import Path

from jobsvc.v1 import job_pb2

# Where client commands and workers look for a server when --server is not given.
DEFAULT_SERVER = "127.0.0.1:50051"
# The job input when none is given: JSON null.
NO_INPUT = "null"
# Jobs per page of `jobs list` and `dlq list`.
PAGE_SIZE = 50


def add_client_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Every command that calls a server, each also taking --server and the connection security options."""
    # --server is also accepted after the command (`jobsvc health --server H:P`).
    server_option = argparse.ArgumentParser(add_help=False)
    server_option.add_argument("--server", default=argparse.SUPPRESS, help="host:port of a jobsvc server")
    add_client_security_options(server_option)
    _add_job_commands(commands, [server_option])
    _add_admin_commands(commands, [server_option])
    _add_schedule_commands(commands, [server_option])
    _add_pause_commands(commands, [server_option])
    _add_operation_commands(commands, [server_option])
    _add_workflow_commands(commands, [server_option])


def add_client_security_options(parser: argparse.ArgumentParser) -> None:
    """How client commands and workers reach the server. Defaults come from the environment
    when the command runs (ClientSecurity.from_env; SUPPRESS here, so nested subcommands do
    not reset a given value)."""
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


def _add_job_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], client: list[argparse.ArgumentParser]
) -> None:
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
    listing.add_argument(
        "--label", action="append", default=[], metavar="KEY=VALUE", help="only jobs with this label (repeatable: all)"
    )
    _add_listing_options(listing)
    get = jobs.add_parser("get", parents=client)
    get.add_argument("job_id")
    _add_view_option(get)
    cancel = jobs.add_parser("cancel", parents=client)
    cancel.add_argument("job_id")
    cancel.add_argument("--reason", default="")


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handler", help="handler name")
    parser.add_argument(
        "input",
        nargs="?",
        default=NO_INPUT,
        help=f"input as JSON text, @FILE, or - for standard input (default: {NO_INPUT})",
    )
    parser.add_argument("--version", default="", help="version selector: 1.4.0, ^2, ~1.4, '>=1.2 <2'")
    parser.add_argument("--priority", type=int, default=0)
    parser.add_argument("--idempotency-key", default="")
    parser.add_argument("--delay", type=float, default=None, help="seconds before the job may start")
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")


def _add_listing_options(parser: argparse.ArgumentParser) -> None:
    """A page of jobs (`jobs list`, `dlq list`)."""
    parser.add_argument("--handler", default="")
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    parser.add_argument("--page-token", default="")
    _add_view_option(parser)


def _add_view_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--view",
        choices=["basic", "full"],
        default=None,
        help="basic: without inputs, results and tracebacks; full: everything (the server's default)",
    )


def _add_admin_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], client: list[argparse.ArgumentParser]
) -> None:
    """dlq, health, handlers: operating the service."""
    dlq = commands.add_parser("dlq", help="dead-lettered (failed) jobs: list and redrive", parents=client)
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    _add_listing_options(dlq_commands.add_parser("list", parents=client))
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


def _add_pause_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], client: list[argparse.ArgumentParser]
) -> None:
    pause = commands.add_parser(
        "pause", parents=client, help="stop starting jobs of a handler or key (queued ones wait, running ones finish)"
    )
    pause.add_argument("handler", nargs="?", default="", help="the handler to pause (none and no --key: list)")
    pause.add_argument("--version", default="", help="only this exact version (default: every version)")
    pause.add_argument("--key", default="", help="pause a flow-control key instead (a tenant's, say)")
    pause.add_argument("--reason", default="", help="shown by `jobsvc pause` with no handler")
    resume = commands.add_parser("resume", parents=client, help="start the queued jobs of a paused handler or key")
    resume.add_argument("handler", nargs="?", default="")
    resume.add_argument("--version", default="", help="the version the pause named (default: the whole handler)")
    resume.add_argument("--key", default="", help="resume a flow-control key instead")


def _add_operation_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], client: list[argparse.ArgumentParser]
) -> None:
    bulk = commands.add_parser(
        "bulk", parents=client, help="cancel, redrive or delete every job a filter selects (a background operation)"
    )
    bulk.add_argument("action", choices=["cancel", "redrive", "delete"])
    bulk.add_argument(
        "--state",
        action="append",
        default=[],
        choices=[v.name.removeprefix("JOB_STATE_").lower() for v in job_pb2.JobState.DESCRIPTOR.values if v.number],
    )
    bulk.add_argument("--handler", default="")
    bulk.add_argument("--version", default="", help="an exact version")
    bulk.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="repeatable: all must match")
    bulk.add_argument("--key", default="", help="jobs with this flow-control key")
    bulk.add_argument("--dry-run", action="store_true", help="only count the jobs it would act on")
    bulk.add_argument("--rate", type=float, default=0.0, metavar="JOBS_PER_SECOND", help="default 1000")
    operations = commands.add_parser("operations", help="bulk operations: list, get, watch, cancel").add_subparsers(
        dest="operations_command", required=True
    )
    operations.add_parser("list", parents=client)
    for verb in ("get", "watch", "cancel"):
        operations.add_parser(verb, parents=client).add_argument("operation_id")


def _add_schedule_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], client: list[argparse.ArgumentParser]
) -> None:
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
    create.add_argument(
        "--while-paused",
        choices=["skip", "keep"],
        default="skip",
        help="a tick while the job's handler, version or key is paused: submit nothing (skip) or wait queued (keep)",
    )
    create.add_argument("--paused", action="store_true")
    schedule_commands.add_parser("list", parents=client)
    for verb in ("get", "pause", "resume", "delete"):
        schedule_commands.add_parser(verb, parents=client).add_argument("name")


def _add_workflow_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], client: list[argparse.ArgumentParser]
) -> None:
    workflow = commands.add_parser("workflow", help="jobs chained into a graph of named steps", parents=client)
    workflow_commands = workflow.add_subparsers(dest="workflow_command", required=True)
    submit = workflow_commands.add_parser(
        "submit",
        parents=client,
        help="submit a workflow from a JSON or YAML file (a SubmitWorkflowRequest; - reads stdin)",
    )
    submit.add_argument("file")
    submit.add_argument("--wait", action="store_true", help="wait until every step has finished (CallWorkflow)")
    get = workflow_commands.add_parser("get", parents=client, help="a workflow and the state of each step")
    get.add_argument("workflow_id")
    get.add_argument("--full", action="store_true", help="with each step's input and result")
    workflow_commands.add_parser("list", parents=client, help="the newest workflows")
    cancel = workflow_commands.add_parser("cancel", parents=client, help="cancel every step not finished")
    cancel.add_argument("workflow_id")
    cancel.add_argument("--reason", default="")
    watch = workflow_commands.add_parser(
        "watch", parents=client, help="each step's state, updated as the workflow runs, until it ends"
    )
    watch.add_argument("workflow_id")
    watch.add_argument(
        "--plain", action="store_true", help="a line per change of a step's state (the default when not on a terminal)"
    )
    redrive = workflow_commands.add_parser(
        "redrive", parents=client, help="run a failed step again; the workflow continues from there"
    )
    redrive.add_argument("workflow_id")
    redrive.add_argument("step", help="the step's name (each[3] for an element of a mapped step)")
