"""Running the commands that call a server: the job API through jobsvc.sdk.Client
(submit, call, watch, jobs, dlq, handlers, schedules, workflow) and the gRPC health check."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

import grpc
import yaml
from google.protobuf import json_format
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jobsvc.cli.commands.workflow_watch import watch_workflow
from jobsvc.cli.config import client_security
from jobsvc.cli.parser.client import NO_INPUT, PAGE_SIZE
from jobsvc.sdk import Client, error_details, job_spec, payload_value
from jobsvc.v1 import job_pb2, job_service_pb2, operation_service_pb2, workflow_service_pb2


async def call_server(args: argparse.Namespace) -> int:
    """Run a job API command; an RPC error is printed with its field violations (exit 2)."""
    async with Client(args.server, security=client_security(args)) as client:
        try:
            return await CLIENT_COMMANDS[args.command](client, args)
        except grpc.aio.AioRpcError as exc:
            details = error_details(exc)
            print(f"error: {details.code.name}: {details.message}", file=sys.stderr)
            for field, description in details.field_violations:
                print(f"  {field}: {description}", file=sys.stderr)
            return 2


async def health(args: argparse.Namespace) -> int:
    """`jobsvc health`: exit 0 if the server reports SERVING."""
    async with client_security(args).channel(args.server) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = await stub.Check(health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout)
        except grpc.aio.AioRpcError as exc:
            print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    print(status)
    return 0 if response.status == health_pb2.HealthCheckResponse.SERVING else 1


async def _submit(client: Client, args: argparse.Namespace) -> int:
    _print(await client.submit(args.handler, _read_input(args.input), **_job_options(args)))
    return 0


async def _call(client: Client, args: argparse.Namespace) -> int:
    job = await client.call(args.handler, _read_input(args.input), timeout=args.timeout, **_job_options(args))
    _print(job)
    return 0 if job.state == job_pb2.JOB_STATE_SUCCEEDED else 1


async def _watch(client: Client, args: argparse.Namespace) -> int:
    if args.submit:
        handler, *rest = args.submit
        job_input = _read_input(rest[0] if rest else NO_INPUT)
        events = client.stream(submit=job_spec(handler, job_input, version=args.version))
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
        _print(await _list_jobs(client, args, states))
    elif args.jobs_command == "get":
        _print(await client.get(args.job_id, view=_view(args)))
    else:
        _print(await client.cancel(args.job_id, args.reason))
    return 0


async def _dlq(client: Client, args: argparse.Namespace) -> int:
    if args.dlq_command == "list":
        _print(await _list_jobs(client, args, [job_pb2.JOB_STATE_FAILED]))
    elif args.job_id:
        _print(await client.redrive(args.job_id))
    else:
        ids = await client.redrive_all(args.handler, version=args.version)
        print(json.dumps({"redriven": len(ids), "job_ids": ids}, indent=2))
    return 0


async def _list_jobs(
    client: Client, args: argparse.Namespace, states: list[job_pb2.JobState.ValueType]
) -> job_service_pb2.ListJobsResponse:
    return await client.list_jobs(
        states=states,
        handler=args.handler,
        page_size=args.page_size,
        page_token=args.page_token,
        view=_view(args),
        labels=_labels(getattr(args, "label", [])),
    )


async def _handlers(client: Client, args: argparse.Namespace) -> int:
    for info in await client.handlers(args.name):
        _print(info)
    return 0


async def _schedules(client: Client, args: argparse.Namespace) -> int:
    command = args.schedules_command
    if command == "create":
        _print(await _create_schedule(client, args))
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


async def _create_schedule(client: Client, args: argparse.Namespace) -> Message:
    options = _job_options(args)
    if options.pop("idempotency_key") or options.pop("delay") is not None:
        raise SystemExit("a schedule sets --idempotency-key and --delay per tick")
    return await client.create_schedule(
        args.name,
        args.handler,
        _read_input(args.input),
        cron=args.cron,
        every=args.every,
        time_zone=args.time_zone,
        missed_ticks=args.missed_ticks,
        while_paused=args.while_paused,
        paused=args.paused,
        **options,
    )


async def _pause(client: Client, args: argparse.Namespace) -> int:
    if args.key:
        _print(await client.pause_flow_key(args.key, reason=args.reason))
    elif args.handler:
        _print(await client.pause(args.handler, args.version, reason=args.reason))
    else:
        for pause in await client.list_pauses():
            what = (
                f"key {pause.flow_key}" if pause.flow_key else f"{pause.handler} {pause.version or '(every version)'}"
            )
            print(f"{what}\tsince {pause.create_time.ToDatetime().isoformat()}Z\t{pause.reason}")
    return 0


async def _resume(client: Client, args: argparse.Namespace) -> int:
    if args.key:
        was_paused, what = await client.resume_flow_key(args.key), f"key {args.key}"
    elif args.handler:
        was_paused, what = await client.resume(args.handler, args.version), f"{args.handler} {args.version}".strip()
    else:
        raise SystemExit("name a handler or a --key to resume")
    print(f"resumed {what}" if was_paused else f"{what} was not paused")
    return 0


_BULK_ACTIONS = {
    "cancel": operation_service_pb2.BULK_ACTION_CANCEL,
    "redrive": operation_service_pb2.BULK_ACTION_REDRIVE,
    "delete": operation_service_pb2.BULK_ACTION_DELETE,
}


async def _bulk(client: Client, args: argparse.Namespace) -> int:
    job_filter = operation_service_pb2.JobFilter(
        states=[job_pb2.JobState.Value(f"JOB_STATE_{s.upper()}") for s in args.state],
        handler=args.handler,
        version=args.version,
        labels=_labels(args.label),
        flow_key=args.key,
    )
    _print(
        await client.bulk(_BULK_ACTIONS[args.action], job_filter, dry_run=args.dry_run, max_jobs_per_second=args.rate)
    )
    return 0


async def _operations(client: Client, args: argparse.Namespace) -> int:
    command = args.operations_command
    if command == "list":
        for operation in await client.list_operations():
            action = operation_service_pb2.BulkAction.Name(operation.action).removeprefix("BULK_ACTION_").lower()
            state = operation_service_pb2.OperationState.Name(operation.state).removeprefix("OPERATION_STATE_")
            print(f"{operation.id}\t{action}\t{state.lower()}\t{operation.processed}/{operation.matched}")
    elif command == "get":
        _print(await client.get_operation(args.operation_id))
    elif command == "watch":
        return await _watch_operation(client, args.operation_id)
    elif command == "cancel":
        _print(await client.cancel_operation(args.operation_id))
    return 0


async def _watch_operation(client: Client, operation_id: str) -> int:
    """A line per change (`running 2000/10000`) until the operation ends: 0 when it
    succeeded, 1 when it was cancelled."""
    state = operation_service_pb2.OPERATION_STATE_UNSPECIFIED
    async for operation in client.watch_operation(operation_id):
        state = operation.state
        name = operation_service_pb2.OperationState.Name(state).removeprefix("OPERATION_STATE_").lower()
        print(f"{name}\t{operation.processed}/{operation.matched}", flush=True)
    return 0 if state == operation_service_pb2.OPERATION_STATE_SUCCEEDED else 1


async def _workflow(client: Client, args: argparse.Namespace) -> int:
    command = args.workflow_command
    if command == "submit":
        request = read_workflow(args.file)
        if not args.wait:
            _print(await client.submit_workflow(request.steps, name=request.name, labels=request.labels))
            return 0
        response = await client.call_workflow(request.steps, name=request.name, labels=request.labels)
        _print(response)
        return 0 if response.workflow.state == workflow_service_pb2.WORKFLOW_STATE_SUCCEEDED else 1
    if command == "get":
        _print(await client.get_workflow(args.workflow_id, full=args.full))
    elif command == "list":
        for workflow in (await client.list_workflows(page_size=PAGE_SIZE)).workflows:
            state = workflow_service_pb2.WorkflowState.Name(workflow.state).removeprefix("WORKFLOW_STATE_")
            print(f"{workflow.id}\t{workflow.name}\t{state}\t{workflow.steps_finished}/{workflow.steps_total}")
    elif command == "watch":
        return await watch_workflow(client, args.workflow_id, sys.stdout, live=sys.stdout.isatty() and not args.plain)
    elif command == "redrive":
        _print(await client.redrive_workflow_step(args.workflow_id, args.step))
    else:
        _print(await client.cancel_workflow(args.workflow_id, args.reason))
    return 0


def read_workflow(file: str) -> workflow_service_pb2.SubmitWorkflowRequest:
    """A SubmitWorkflowRequest in its JSON form, written as JSON or YAML (JSON is YAML, so
    one parser reads both), from a file or (`-`) stdin."""
    text = sys.stdin.read() if file == "-" else Path(file).read_text()
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SystemExit(f"error: {file} is neither JSON nor YAML: {exc}") from exc
    try:
        return json_format.ParseDict(document, workflow_service_pb2.SubmitWorkflowRequest())
    except json_format.ParseError as exc:
        raise SystemExit(f"error: {file} is not a SubmitWorkflowRequest: {exc}") from exc


CLIENT_COMMANDS: dict[str, Callable[[Client, argparse.Namespace], Awaitable[int]]] = {
    "submit": _submit,
    "call": _call,
    "watch": _watch,
    "jobs": _jobs,
    "handlers": _handlers,
    "dlq": _dlq,
    "schedules": _schedules,
    "pause": _pause,
    "resume": _resume,
    "bulk": _bulk,
    "operations": _operations,
    "workflow": _workflow,
}


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


def _read_input(text: str) -> Any:
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"input is not valid JSON: {exc}") from None


def _labels(given: list[str]) -> dict[str, str]:
    """KEY=VALUE options as a dict (a bare KEY is left out)."""
    return dict(label.split("=", 1) for label in given if "=" in label)


def _job_options(args: argparse.Namespace) -> dict[str, Any]:
    labels = _labels(args.label)
    return {
        "version": args.version,
        "priority": args.priority,
        "idempotency_key": args.idempotency_key,
        "delay": args.delay,
        "labels": labels,
    }


def _view(args: argparse.Namespace) -> job_service_pb2.JobView.ValueType:
    if args.view is None:
        return job_service_pb2.JOB_VIEW_UNSPECIFIED
    return job_service_pb2.JobView.Value(f"JOB_VIEW_{args.view.upper()}")


def _print(message: Message, out: TextIO | None = None) -> None:
    # sys.stdout as it is now, not when this module was imported (tests swap it).
    (out or sys.stdout).write(json_format.MessageToJson(message, preserving_proto_field_name=True, indent=2) + "\n")
