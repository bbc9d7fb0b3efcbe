"""Whatever a remote worker declares, no RPC answers INTERNAL or UNKNOWN because of it.

A worker's hello (or unary Lease) declares handler versions: names, versions, JSON
Schemas, types, retry policies, timeouts, flow control, and its own id, concurrency
and lease. What the server cannot use is refused at once with INVALID_ARGUMENT naming
the field; what it accepts must then serve every Submit, ListHandlers and settlement
to those versions. Found by an outside client: a worker declaring
`input_schema {"type": 12}` was welcomed, and every Submit to its handler then
answered INTERNAL (a TypeError inside jsonschema).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2, json_format, struct_pb2

from jobsvc import RetryPolicy, handler
from jobsvc.sdk import error_details
from jobsvc.v1 import (
    ack_service_pb2,
    ack_service_pb2_grpc,
    job_pb2,
    job_service_pb2,
    job_service_pb2_grpc,
    submit_service_pb2,
    submit_service_pb2_grpc,
)
from tests.conftest import StartServer

Code = grpc.StatusCode
# Answers that mean the server broke (or hung) rather than refused.
BROKEN = {Code.INTERNAL, Code.UNKNOWN, Code.DEADLINE_EXCEEDED}
TIMEOUT = 15.0
TEN_THOUSAND_YEARS = 315_576_000_000
CENTURY_AND_A_DAY = int(100 * 365.25 * 86400) + 86400

# The four schemas of the report, then more of the same kind: each fails jsonschema when
# a Submit is validated with it (TypeError, RecursionError, Unresolvable...).
REPORTED_SCHEMAS: list[dict[str, Any]] = [{"type": 12}, {"type": None}, {"minimum": "abc"}, {"required": 5}]
UNUSABLE_SCHEMAS: list[dict[str, Any]] = [
    *REPORTED_SCHEMAS,
    {"type": "strin"},
    {"properties": {"url": {"type": 12}}},
    {"$ref": "#/definitions/missing"},
    {"$ref": "http://127.0.0.1:9/schema.json"},
    {"$ref": "#"},
    {"allOf": [{"$ref": "#"}]},
    {"properties": {"a": {"$ref": "#/properties/a"}}},
    {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"anyOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"},
    {"$ref": "#/properties/a/type", "properties": {"a": {"type": "string"}}},
    {"$schema": ["x"]},
    {"$schema": 5},
    {"$schema": "http://example.com/not-a-draft"},
    {"pattern": "("},
    {"$schema": "http://json-schema.org/draft-04/schema#", "patternProperties": {"(": {}}},
    {"$id": 5},
    {"$dynamicRef": "#nowhere"},
]
USABLE_SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}},
    {"$schema": "http://json-schema.org/draft-04/schema#", "type": "string", "maxLength": 3},
    {"type": "object", "properties": {"next": {"$ref": "#"}}},
    {"$ref": "https://json-schema.org/draft/2020-12/schema"},
    {"components": {"s": {"type": "string"}}, "$ref": "#/components/s"},
    {"multipleOf": 1e-300},
    {"enum": []},
    {"format": "email"},
]
INPUTS: list[job_pb2.Payload] = [
    job_pb2.Payload(json=struct_pb2.Value(string_value="x")),
    job_pb2.Payload(json=struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)),
    job_pb2.Payload(json=struct_pb2.Value(number_value=1e300)),
    job_pb2.Payload(json=json_format.ParseDict({"a": 1, "url": "u", "next": {"next": {}}}, struct_pb2.Value())),
    job_pb2.Payload(json=json_format.ParseDict([1, "a", None], struct_pb2.Value())),
    job_pb2.Payload(proto=any_pb2.Any(type_url="type.googleapis.com/acme.v1.Image", value=b"\x08\x01")),
]

Mutation = Callable[[job_pb2.HandlerInfo], None]


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(value, struct_pb2.Struct())


def _duration(seconds: int, nanos: int = 0) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=seconds, nanos=nanos)


def _setting(field: str, value: Any) -> Mutation:
    """Set one field of a HandlerInfo (a message field is copied in)."""

    def mutate(info: job_pb2.HandlerInfo) -> None:
        target: Any = info
        *parents, name = field.split(".")
        for parent in parents:
            target = getattr(target, parent)
        if isinstance(value, list):
            getattr(target, name).extend(value)
        elif hasattr(value, "DESCRIPTOR"):
            getattr(target, name).CopyFrom(value)
        else:
            setattr(target, name, value)

    return mutate


def _handler_mutations() -> list[tuple[str, Mutation]]:
    """One odd value per declared handler field."""
    cases: list[tuple[str, Mutation]] = []
    for label, schema in [
        *((f"unusable {s}", s) for s in UNUSABLE_SCHEMAS),
        *((f"usable {s}", s) for s in USABLE_SCHEMAS),
    ]:
        cases.append((f"input_schema {label}", _setting("input_schema", _struct(schema))))
        cases.append((f"output_schema {label}", _setting("output_schema", _struct(schema))))
    for name in ["", "Bad", "a" * 129, "a\u202eb", "a b"]:
        cases.append((f"name {name[:20]!r}", _setting("name", name)))
    for version in ["", "1", "v1.0.0", "01.0.0", "9" * 5000 + ".0.0", "1.0.0-" + "a" * 3000, "1.0.0+b", "1.0.0-rc.1"]:
        cases.append((f"version {version[:20]!r}", _setting("version", version)))
    cases.append(("description of 200 kB", _setting("description", "d" * 200_000)))
    for field in ("input_type", "output_type"):
        for value in ["acme.v1.Image", "not a type", "x" * 10_000, "type.googleapis.com/acme.v1.Image", ".a"]:
            cases.append((f"{field} {value[:20]!r}", _setting(field, value)))
    for value in [1e300, 0.5, 1e-300, 1.0]:
        cases.append((f"backoff {value}", _setting("retry_policy.backoff_coefficient", value)))
    for attempts in [-1, 1, 1000, 1001, 2**31 - 1]:
        cases.append((f"maximum_attempts {attempts}", _setting("retry_policy.maximum_attempts", attempts)))
    durations = {
        "1 ns": _duration(0, 1),
        "0": _duration(0),
        "-1 s": _duration(-1),
        "a century and a day": _duration(CENTURY_AND_A_DAY),
        "10,000 years": _duration(TEN_THOUSAND_YEARS),
        "past Duration's range": _duration(2**62),
    }
    for field in (
        "retry_policy.initial_interval",
        "retry_policy.maximum_interval",
        "attempt_timeout",
        "cache_ttl",
        "retention",
    ):
        for label, value in durations.items():
            cases.append((f"{field} {label}", _setting(field, value)))
    for types in [[""], ["x" * 10_000], [f"E{i}" for i in range(10_000)]]:
        cases.append(
            (
                f"non_retryable_error_types {len(types)}x{len(types[0])}",
                _setting("retry_policy.non_retryable_error_types", types),
            )
        )
    cases.extend(_flow_mutations(durations))
    return cases


def _flow_mutations(durations: dict[str, duration_pb2.Duration]) -> list[tuple[str, Mutation]]:
    cases: list[tuple[str, Mutation]] = []
    keys = [
        "",
        "{",
        "}",
        "{input.}",
        "{label.}",
        "{nope}",
        "k" * 300,
        "{input.a}",
        "{label.tenant}",
        "{handler}-{version}",
    ]
    for limit in [0, -1, 1, 2**31 - 1]:
        cases.append((f"max_running {limit}", _setting("flow_control.concurrency.max_running", limit)))
        cases.append((f"max_starts {limit}", _setting("flow_control.rate.max_starts", limit)))
    for key in keys:
        for part in ("concurrency", "rate", "fairness"):
            limit = {"concurrency": "max_running", "rate": "max_starts"}.get(part)

            def mutate(info: job_pb2.HandlerInfo, part: str = part, key: str = key, limit: str | None = limit) -> None:
                getattr(info.flow_control, part).key = key
                if limit is not None:
                    setattr(getattr(info.flow_control, part), limit, 2)

            cases.append((f"{part} key {key[:20]!r}", mutate))
    for label, value in durations.items():
        cases.append((f"rate period {label}", _rate_with("period", value)))
        cases.append((f"fairness spacing {label}", _fairness_with(value)))
    return cases


def _rate_with(field: str, value: duration_pb2.Duration) -> Mutation:
    def mutate(info: job_pb2.HandlerInfo) -> None:
        info.flow_control.rate.max_starts = 5
        getattr(info.flow_control.rate, field).CopyFrom(value)

    return mutate


def _fairness_with(value: duration_pb2.Duration) -> Mutation:
    def mutate(info: job_pb2.HandlerInfo) -> None:
        info.flow_control.fairness.key = "{handler}"
        info.flow_control.fairness.spacing.CopyFrom(value)

    return mutate


def _worker_mutations() -> list[tuple[str, Callable[[ack_service_pb2.WorkerInfo], None]]]:
    """One odd value per field of the WorkerInfo itself."""

    def setting(field: str, value: Any) -> Callable[[ack_service_pb2.WorkerInfo], None]:
        def mutate(info: ack_service_pb2.WorkerInfo) -> None:
            if hasattr(value, "DESCRIPTOR"):
                getattr(info, field).CopyFrom(value)
            else:
                setattr(info, field, value)

        return mutate

    def duplicated(info: ack_service_pb2.WorkerInfo) -> None:
        twin = info.handlers.add()
        twin.CopyFrom(info.handlers[0])
        twin.input_schema.CopyFrom(_struct({"type": "string"}))

    def many(info: ack_service_pb2.WorkerInfo) -> None:
        for index in range(300):
            info.handlers.add(name=f"{info.handlers[0].name}.{index}", version="1.0.0")

    def labels(info: ack_service_pb2.WorkerInfo) -> None:
        info.labels.update({f"k{i}": "v" * 1000 for i in range(500)})

    cases: list[tuple[str, Callable[[ack_service_pb2.WorkerInfo], None]]] = [
        ("worker_id empty", setting("worker_id", "")),
        ("worker_id of 201", setting("worker_id", "w" * 201)),
        ("worker_id with spaces and emoji", setting("worker_id", "é🙂 w\n")),
        ("the same version twice", duplicated),
        ("300 versions", many),
        ("500 labels", labels),
        ("no handlers", lambda info: info.ClearField("handlers")),
    ]
    for concurrency in [0, -1, 1001, 2**31 - 1]:
        cases.append((f"concurrency {concurrency}", setting("concurrency", concurrency)))
    for label, lease in [
        ("-1 s", _duration(-1)),
        ("1 ns", _duration(0, 1)),
        ("10,000 years", _duration(TEN_THOUSAND_YEARS)),
    ]:
        cases.append((f"lease {label}", setting("lease_duration", lease)))
    return cases


class Prober:
    """Declares a worker both ways (Work hello, unary Lease), then Submits to each of
    its handlers with several inputs and lists them; records every broken answer."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._ack = ack_service_pb2_grpc.AckServiceStub(channel)
        self._submit = submit_service_pb2_grpc.SubmitServiceStub(channel)
        self._jobs = job_service_pb2_grpc.JobServiceStub(channel)
        self.broken: list[str] = []
        self.answers = 0

    async def probe(self, case: str, worker: ack_service_pb2.WorkerInfo) -> None:
        """Every RPC the declaration can reach; what is broken goes to `self.broken`."""
        await self._answer(case, "Work hello", self._hello(worker))
        await self._answer(case, "Lease", self._ack.Lease(ack_service_pb2.LeaseRequest(worker=worker), timeout=TIMEOUT))
        for info in list(worker.handlers)[:3]:
            version = info.version if len(info.version) < 100 else ""
            for payload in INPUTS:
                job = job_pb2.JobSpec(handler=info.name[:200], version=version, input=payload)
                await self._answer(
                    case,
                    f"Submit {info.name[:20]}",
                    self._submit.Submit(submit_service_pb2.SubmitRequest(job=job), timeout=TIMEOUT),
                )
            listing = job_service_pb2.ListHandlersRequest(name=info.name[:200])
            await self._answer(case, "ListHandlers", self._jobs.ListHandlers(listing, timeout=TIMEOUT))

    async def _hello(self, worker: ack_service_pb2.WorkerInfo) -> None:
        call = self._ack.Work(iter([ack_service_pb2.WorkRequest(hello=worker)]), timeout=TIMEOUT)
        async for _ in call:
            pass

    async def _answer(self, case: str, rpc: str, call: Any) -> None:
        self.answers += 1
        try:
            await call
        except grpc.aio.AioRpcError as exc:
            if exc.code() in BROKEN:
                self.broken.append(f"{case}: {rpc} answered {exc.code().name}: {(exc.details() or '')[:160]}")


def _worker(name: str) -> ack_service_pb2.WorkerInfo:
    return ack_service_pb2.WorkerInfo(
        worker_id=f"odd-{name}", concurrency=2, handlers=[job_pb2.HandlerInfo(name=name, version="1.0.0")]
    )


@pytest.fixture
async def channel(start_server: StartServer) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to an API-only replica: every declared version is served by the prober alone."""
    server = await start_server(handler_modules=[])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        yield ch


async def test_the_reported_schemas_are_refused_when_declared_by_hello_or_lease(channel: grpc.aio.Channel) -> None:
    """Proves: a declaration whose schema fails its metaschema is INVALID_ARGUMENT naming
    the field and the handler (it used to be welcomed, and every Submit then INTERNAL)."""
    ack = ack_service_pb2_grpc.AckServiceStub(channel)
    submit = submit_service_pb2_grpc.SubmitServiceStub(channel)
    for schema in REPORTED_SCHEMAS:
        for field in ("input_schema", "output_schema"):
            worker = _worker("bb_badschema")
            getattr(worker.handlers[0], field).CopyFrom(_struct(schema))
            with pytest.raises(grpc.aio.AioRpcError) as hello:
                async for _ in ack.Work(iter([ack_service_pb2.WorkRequest(hello=worker)]), timeout=TIMEOUT):
                    pass
            with pytest.raises(grpc.aio.AioRpcError) as lease:
                await ack.Lease(ack_service_pb2.LeaseRequest(worker=worker), timeout=TIMEOUT)
            for caught, path in ((hello, "hello"), (lease, "worker")):
                details = error_details(caught.value)
                assert caught.value.code() == Code.INVALID_ARGUMENT, (schema, field, caught.value.details())
                [(violation, description)] = details.field_violations
                assert violation == f"{path}.handlers[0].{field}", details.field_violations
                assert "bb_badschema" in description and "JSON Schema" in description, description
                assert "bb_badschema" in details.message
    # Nothing was registered: a Submit finds no such handler (it used to answer INTERNAL).
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        job = job_pb2.JobSpec(handler="bb_badschema", input=INPUTS[0])
        await submit.Submit(submit_service_pb2.SubmitRequest(job=job), timeout=TIMEOUT)
    assert caught.value.code() == Code.NOT_FOUND


async def test_a_flow_key_no_job_could_fit_is_refused_when_declared(channel: grpc.aio.Channel) -> None:
    """Proves: a key whose literal text is over the 256 bytes of a rendered key is refused
    with the declaration (it was accepted, and every Submit was then refused, naming the
    job's input, which was not at fault)."""
    worker = _worker("long_key")
    worker.handlers[0].flow_control.rate.max_starts = 5
    worker.handlers[0].flow_control.rate.key = "k" * 300
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ack_service_pb2_grpc.AckServiceStub(channel).Lease(
            ack_service_pb2.LeaseRequest(worker=worker), timeout=TIMEOUT
        )
    assert caught.value.code() == Code.INVALID_ARGUMENT
    [(field, description)] = error_details(caught.value).field_violations
    assert field == "worker.handlers[0].flow_control.rate.key" and "over 256 bytes" in description


async def test_odd_declarations_never_make_an_rpc_internal(channel: grpc.aio.Channel) -> None:
    """Proves: for each odd value of every declared field (alone, then mixed at random,
    seeded), hello, Lease, Submits of several inputs to the declared handlers, and
    ListHandlers answer something other than INTERNAL, UNKNOWN or a hang."""
    prober = Prober(channel)
    handler_cases = _handler_mutations()
    worker_cases = _worker_mutations()
    for index, (case, mutate) in enumerate(handler_cases):
        worker = _worker(f"odd_{index}")
        mutate(worker.handlers[0])
        await prober.probe(case, worker)
    for index, (case, mutate_worker) in enumerate(worker_cases):
        worker = _worker(f"oddw_{index}")
        mutate_worker(worker)
        await prober.probe(case, worker)
    mixer = random.Random(11)
    for index in range(40):
        mixed = mixer.sample(handler_cases, 3)
        worker = _worker(f"mixed_{index}")
        for _, mutate in mixed:
            mutate(worker.handlers[0])
        if mixer.random() < 0.3:
            label, mutate_worker = mixer.choice(worker_cases)
            mutate_worker(worker)
            mixed.append((label, lambda info: None))
        await prober.probe(" + ".join(case for case, _ in mixed), worker)
    print(f"[declarations] {len(handler_cases)} + {len(worker_cases)} + 40 declarations, {prober.answers} answers")
    assert not prober.broken, "\n".join(prober.broken)


async def test_a_schema_stored_before_declarations_were_checked_fails_the_submit_cleanly(
    start_server: StartServer, database_url: str
) -> None:
    """Proves: a broken schema already in the registry (written by an older server) makes
    a Submit FAILED_PRECONDITION naming the handler, never INTERNAL, and a remote
    reference in it is never fetched."""
    fetched = asyncio.Event()

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fetched.set()
        writer.close()

    listener = await asyncio.start_server(count, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    stored = {
        "old_type": {"type": 12},
        "old_minimum": {"minimum": "abc"},
        "old_loop": {"$ref": "#"},
        "old_remote": {"$ref": f"http://127.0.0.1:{port}/schema.json"},
        "old_not_an_object": ["type", "string"],
    }
    conn = await asyncpg.connect(database_url)
    try:
        await conn.executemany(
            "INSERT INTO jobsvc_handlers (name, version, input_schema) VALUES ($1, '1.0.0', $2::jsonb)",
            [(name, json.dumps(schema)) for name, schema in stored.items()],
        )
    finally:
        await conn.close()
    server = await start_server(handler_modules=[])
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
            submit = submit_service_pb2_grpc.SubmitServiceStub(ch)
            for name in stored:
                job = job_pb2.JobSpec(handler=name, input=INPUTS[3])
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await submit.Submit(submit_service_pb2.SubmitRequest(job=job), timeout=TIMEOUT)
                details = error_details(caught.value)
                assert caught.value.code() == Code.FAILED_PRECONDITION, (name, caught.value.details())
                assert details.reason == "HANDLER_SCHEMA_INVALID"
                assert details.metadata["handler"] == name and f"{name}@1.0.0" in details.message
    finally:
        listener.close()
        await listener.wait_closed()
    assert not fetched.is_set(), "the server fetched a remote $ref"


async def test_a_huge_backoff_coefficient_still_lets_attempts_fail(channel: grpc.aio.Channel) -> None:
    """Proves: a declared backoff_coefficient of 1e300 does not make the third failed
    attempt an error of the database (the backoff overflowed a double before it was
    capped by maximum_interval), so Nack answers and the job ends FAILED."""
    ack = ack_service_pb2_grpc.AckServiceStub(channel)
    jobs = job_service_pb2_grpc.JobServiceStub(channel)
    worker = _worker("huge_backoff")
    policy = worker.handlers[0].retry_policy
    policy.backoff_coefficient = 1e300
    policy.maximum_attempts = 4
    policy.initial_interval.FromMilliseconds(1)
    policy.maximum_interval.FromMilliseconds(1)
    await ack.Lease(ack_service_pb2.LeaseRequest(worker=worker), timeout=TIMEOUT)  # registers the version
    job = job_pb2.JobSpec(handler="huge_backoff", input=INPUTS[0])
    job_id = (
        await submit_service_pb2_grpc.SubmitServiceStub(channel).Submit(
            submit_service_pb2.SubmitRequest(job=job), timeout=TIMEOUT
        )
    ).job.id
    states = []
    for _ in range(4):
        lease = ack_service_pb2.LeaseRequest(worker=worker, max_jobs=1)
        lease.wait.FromSeconds(10)
        [assignment] = (await ack.Lease(lease, timeout=TIMEOUT)).assignments
        nack = ack_service_pb2.NackRequest(
            job_id=job_id, attempt_token=assignment.attempt_token, error=job_pb2.JobError(type="Boom", message="x")
        )
        states.append((await ack.Nack(nack, timeout=TIMEOUT)).state)
    assert states == [job_pb2.JOB_STATE_QUEUED] * 3 + [job_pb2.JOB_STATE_FAILED]
    done = (await jobs.GetJob(job_service_pb2.GetJobRequest(id=job_id), timeout=TIMEOUT)).job
    assert done.state == job_pb2.JOB_STATE_FAILED and done.attempt == 4


def test_an_unusable_schema_fails_the_handler_definition() -> None:
    """Proves: an in-process handler with a schema that cannot be used is refused where it
    is defined, with a message naming the handler and the problem."""
    for schema in [*REPORTED_SCHEMAS, {"$ref": "#"}, {"$ref": "http://127.0.0.1:9/x"}]:
        for field in ("input_schema", "output_schema"):
            with pytest.raises(ValueError, match=rf"handler bb_badschema@1\.0\.0: {field} is not a usable JSON Schema"):
                handler("bb_badschema", "1.0.0", **{field: schema})(lambda ctx, value: value)


def test_an_in_process_declaration_the_store_cannot_hold_fails_the_handler_definition() -> None:
    """Proves: what a worker's declaration is refused for because the store cannot hold it
    (a duration past a century: now() + 1e12 s is a date Python cannot read back, and
    now() - 1e12 s is out of PostgreSQL's range; NaN; attempts past an integer column)
    fails an in-process handler where it is defined too. 0 still means "none" there."""
    refused: list[dict[str, Any]] = [
        {"attempt_timeout": 1e12},
        {"cache_ttl": 1e12},
        {"retention": -1.0},
        {"attempt_timeout": math.nan},
        {"retry_policy": RetryPolicy(maximum_interval=1e12)},
        {"retry_policy": RetryPolicy(initial_interval=-1.0)},
        {"retry_policy": RetryPolicy(backoff_coefficient=math.inf)},
        {"retry_policy": RetryPolicy(maximum_attempts=2**31)},
    ]
    for options in refused:
        with pytest.raises(ValueError, match=r"handler bb_limits@1\.0\.0: "):
            handler("bb_limits", "1.0.0", **options)(lambda ctx, value: value)
    accepted: dict[str, Any] = {"attempt_timeout": 0, "cache_ttl": 0, "retry_policy": RetryPolicy(initial_interval=0)}
    handler("bb_limits", "1.0.0", **accepted)(lambda ctx, value: value)


async def test_a_handler_module_with_an_unusable_schema_fails_the_server_start(
    start_server: StartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves: `jobsvc serve --handlers` with such a module does not start."""
    module = "bad_schema_handlers_for_a_test"
    (tmp_path / f"{module}.py").write_text(
        "from jobsvc import handler\n\n"
        "@handler('bb_badschema', '1.0.0', input_schema={'type': 12})\n"
        "async def bad(ctx, value):\n"
        "    return value\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ValueError, match=r"bb_badschema@1\.0\.0: input_schema .*\$\.type: 12 is not valid"):
            await start_server(handler_modules=[module])
    finally:
        sys.modules.pop(module, None)
