"""Property-based tests over the whole jobsvc.v1 surface (hypothesis).

One `jobsvc serve` process (authentication on, a token with every scope) answers
every example of this module over real gRPC, and over HTTP (the Connect protocol, as
binary protobuf and as JSON): random bytes as requests, and random valid-shaped messages
derived from each request type's descriptor. Every answer's
code must be in the method's allowed set (never UNKNOWN or INTERNAL), every call has
a deadline, and afterwards the server still answers health and a normal Submit/Call.
Examples are derandomized, so a run in CI replays exactly.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import asyncpg
import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jobsvc.api.auth import SCOPES, token_digest
from jobsvc.store.embedded import EmbeddedPostgres
from jobsvc.v1 import call_service_pb2, job_pb2, pause_service_pb2, pause_service_pb2_grpc, submit_service_pb2
from tests.api_surface import Answer, call_sync, jobsvc_methods
from tests.conftest import TEMPLATE_DB
from tests.processes import ServerProcess, free_port, jobsvc_serve
from tests.proto_strategies import messages

pytestmark = pytest.mark.slow

Code = grpc.StatusCode
TOKEN = "tok-fuzz-every-scope-8c1d"
METADATA = (("authorization", f"Bearer {TOKEN}"),)
METHODS = jobsvc_methods()

# What each method may answer. Anything else (UNKNOWN, INTERNAL, UNIMPLEMENTED,
# UNAVAILABLE...) is a bug. RESOURCE_EXHAUSTED: a request over the message size limit.
ANSWERS = {Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.RESOURCE_EXHAUSTED}
# Methods that wait by design (for a job, an event or a lease) may reach the deadline.
WAITS = {Code.DEADLINE_EXCEEDED}
ALLOWED: dict[str, set[Code]] = {
    "jobsvc.v1.SubmitService.Submit": ANSWERS | {Code.ALREADY_EXISTS},
    "jobsvc.v1.SubmitService.SubmitBatch": ANSWERS | {Code.ALREADY_EXISTS},
    "jobsvc.v1.CallService.Call": ANSWERS | {Code.ALREADY_EXISTS} | WAITS,
    # OUT_OF_RANGE: an after_sequence beyond the job's last sequence.
    "jobsvc.v1.StreamService.Stream": ANSWERS | {Code.ALREADY_EXISTS, Code.OUT_OF_RANGE} | WAITS,
    "jobsvc.v1.JobService.GetJob": ANSWERS,
    "jobsvc.v1.JobService.ListJobs": ANSWERS,
    "jobsvc.v1.JobService.ListHandlers": ANSWERS,
    "jobsvc.v1.JobService.CancelJob": ANSWERS | {Code.FAILED_PRECONDITION},
    "jobsvc.v1.JobService.RedriveJob": ANSWERS | {Code.FAILED_PRECONDITION},
    "jobsvc.v1.JobService.RedriveJobs": ANSWERS | {Code.FAILED_PRECONDITION},
    "jobsvc.v1.AckService.Work": ANSWERS | WAITS,
    "jobsvc.v1.AckService.Lease": ANSWERS | WAITS,
    "jobsvc.v1.AckService.Heartbeat": ANSWERS | {Code.FAILED_PRECONDITION},
    "jobsvc.v1.AckService.ReportProgress": ANSWERS | {Code.FAILED_PRECONDITION},
    "jobsvc.v1.AckService.Ack": ANSWERS | {Code.FAILED_PRECONDITION},
    "jobsvc.v1.AckService.Nack": ANSWERS | {Code.FAILED_PRECONDITION},
    "jobsvc.v1.AckService.Reject": ANSWERS | {Code.FAILED_PRECONDITION},
}
# A method added later is held to this until it gets its own line.
DEFAULT_ALLOWED = ANSWERS | {Code.ALREADY_EXISTS, Code.FAILED_PRECONDITION}
WAIT_DEADLINE = 0.5  # for methods that wait by design
ANSWER_DEADLINE = 15.0  # for the others: generous on a loaded machine; reaching it is a hang

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def allowed(method: MethodDescriptor) -> set[Code]:
    return ALLOWED.get(method.full_name, DEFAULT_ALLOWED)


def deadline(method: MethodDescriptor) -> float:
    return WAIT_DEADLINE if Code.DEADLINE_EXCEEDED in allowed(method) else ANSWER_DEADLINE


@pytest.fixture(scope="module")
def fuzz_server(pg: EmbeddedPostgres) -> Iterator[ServerProcess]:
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    asyncio.run(_execute(pg, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
    tokens = f"fuzzer:{','.join(sorted(SCOPES))}:{token_digest(TOKEN)}"
    try:
        args = ("--database-url", pg.dsn_for(name), "--handlers", "tests.handlers", "--auth-tokens", tokens)
        # Pauses answer at once: the examples pause many keys, each would wait a second and a half.
        args = (*args, "--pause-propagation", "0")
        args += ("--http-port", str(free_port()))
        with jobsvc_serve(*args) as server:
            yield server
    finally:
        asyncio.run(_execute(pg, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def _execute(pg: EmbeddedPostgres, statement: str) -> None:
    conn = await asyncpg.connect(pg.dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def channel(fuzz_server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(fuzz_server.address) as ch:
        yield ch


def _check(method: MethodDescriptor, answer: Answer, server: ServerProcess, logged_before: int) -> None:
    event(f"{method.name}: {answer.code.name}")  # shown by --hypothesis-show-statistics
    reason = answer.error.details() if isinstance(answer.error, grpc.Call) else ""
    assert answer.code in allowed(method), (
        f"{method.full_name} answered {answer.code.name}: {reason}\n" + _server_errors(server, logged_before)
    )


def _server_errors(server: ServerProcess, since: int = 0) -> str:
    """The server's log from its first error (after line `since`) on, to show with a failure."""
    lines = server.lines[since:]
    first = next((i for i, line in enumerate(lines) if " ERROR " in line), len(lines))
    return "\n".join(line for line in lines[first : first + 200] if " DEBUG " not in line)


@pytest.mark.parametrize("method", METHODS, ids=[m.full_name for m in METHODS])
@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_random_bytes_get_an_allowed_answer(
    fuzz_server: ServerProcess, channel: grpc.Channel, method: MethodDescriptor, data: st.DataObject
) -> None:
    count = data.draw(st.integers(1, 3), label="messages") if method.client_streaming else 1
    requests = [data.draw(st.binary(max_size=512), label="request") for _ in range(count)]
    logged_before = len(fuzz_server.lines)
    answer = call_sync(channel, method, requests, metadata=METADATA, timeout=deadline(method))
    _check(method, answer, fuzz_server, logged_before)


@pytest.mark.parametrize("method", METHODS, ids=[m.full_name for m in METHODS])
@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_valid_shaped_messages_get_an_allowed_answer(
    fuzz_server: ServerProcess, channel: grpc.Channel, method: MethodDescriptor, data: st.DataObject
) -> None:
    count = data.draw(st.integers(1, 3), label="messages") if method.client_streaming else 1
    requests = [data.draw(messages(method.input_type), label="request") for _ in range(count)]
    logged_before = len(fuzz_server.lines)
    answer = call_sync(
        channel, method, [r.SerializeToString() for r in requests], metadata=METADATA, timeout=deadline(method)
    )
    _check(method, answer, fuzz_server, logged_before)


# -- the same over HTTP (jobsvc.web: the Connect protocol) --------------------------------

HTTP_METHODS = [m for m in METHODS if not m.client_streaming]  # bidirectional streams need gRPC
# An unary error's HTTP status per code (Connect); a stream answers 200 and ends with the code.
CONNECT_CODES = {("canceled" if c == Code.CANCELLED else c.name.lower()): c for c in Code}


@pytest.fixture(scope="module")
def http(fuzz_server: ServerProcess) -> Iterator[httpx.Client]:
    port = next(line.rsplit(":", 1)[1].strip("/") for line in fuzz_server.lines if "dashboard on http" in line)
    headers = {"authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
        yield client


def call_http(http: httpx.Client, method: MethodDescriptor, body: bytes, json_body: bool) -> Code:
    """One call of `method` over HTTP; its code (never a bare 5xx: every error has its JSON body)."""
    kind = ("application/connect+" if method.server_streaming else "application/") + ("json" if json_body else "proto")
    timeout_ms = str(int(deadline(method) * 1000))
    if method.server_streaming:
        body = bytes([0]) + len(body).to_bytes(4, "big") + body
    response = http.post(
        f"/{method.containing_service.full_name}/{method.name}",
        content=body,
        headers={"content-type": kind, "connect-timeout-ms": timeout_ms},
    )
    if method.server_streaming:
        assert response.status_code == 200, response.text
        end = json.loads(response.content[response.content.rindex(b"\x02\x00") + 5 :])
        return CONNECT_CODES[end["error"]["code"]] if "error" in end else Code.OK
    if response.status_code == 200:
        return Code.OK
    return CONNECT_CODES[response.json()["code"]]


@pytest.mark.parametrize("method", HTTP_METHODS, ids=[m.full_name for m in HTTP_METHODS])
@settings(FUZZ, max_examples=15)
@given(data=st.data())
def test_http_random_bodies_get_an_allowed_answer(
    fuzz_server: ServerProcess, http: httpx.Client, method: MethodDescriptor, data: st.DataObject
) -> None:
    json_body = data.draw(st.booleans(), label="json")
    body = data.draw(st.binary(max_size=512) | st.text(max_size=200).map(str.encode), label="body")
    logged_before = len(fuzz_server.lines)
    _check(method, Answer(call_http(http, method, body, json_body), None), fuzz_server, logged_before)


@pytest.mark.parametrize("method", HTTP_METHODS, ids=[m.full_name for m in HTTP_METHODS])
@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_http_valid_shaped_messages_get_an_allowed_answer(
    fuzz_server: ServerProcess, http: httpx.Client, method: MethodDescriptor, data: st.DataObject
) -> None:
    request = data.draw(messages(method.input_type), label="request")
    json_body = data.draw(st.booleans(), label="json")
    if json_body:
        try:
            body = json_format.MessageToJson(request).encode()
        except Exception:  # a value JSON cannot carry (NaN, an Any with corrupt bytes): sent as binary
            body, json_body = request.SerializeToString(), False
    else:
        body = request.SerializeToString()
    logged_before = len(fuzz_server.lines)
    _check(method, Answer(call_http(http, method, body, json_body), None), fuzz_server, logged_before)


def test_the_server_is_still_well(fuzz_server: ServerProcess, channel: grpc.Channel) -> None:
    """Last in this module: after every example, health, Submit and Call still work."""
    health = health_pb2_grpc.HealthStub(channel)
    response = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert response.status == health_pb2.HealthCheckResponse.SERVING
    _resume_everything(channel)
    spec = job_pb2.JobSpec(handler="echo", input=job_pb2.Payload(json={"string_value": "still here"}))
    submit = channel.unary_unary(
        "/jobsvc.v1.SubmitService/Submit",
        request_serializer=submit_service_pb2.SubmitRequest.SerializeToString,
        response_deserializer=submit_service_pb2.SubmitResponse.FromString,
    )
    assert submit(submit_service_pb2.SubmitRequest(job=spec), metadata=METADATA, timeout=30).job.id
    call = channel.unary_unary(
        "/jobsvc.v1.CallService/Call",
        request_serializer=call_service_pb2.CallRequest.SerializeToString,
        response_deserializer=call_service_pb2.CallResponse.FromString,
    )
    job = call(call_service_pb2.CallRequest(job=spec), metadata=METADATA, timeout=30).job
    assert job.state == job_pb2.JOB_STATE_SUCCEEDED and job.result.json.string_value == "still here"
    assert not [line for line in fuzz_server.lines if "unexpected error" in line], _server_errors(fuzz_server)


def _resume_everything(channel: grpc.Channel) -> None:
    """Undo the pauses the examples set: the fuzzer knows the handler name "echo", and a
    PauseHandler it sends is obeyed like any other (its jobs would wait, by design)."""
    pauses = pause_service_pb2_grpc.PauseServiceStub(channel)
    listed = pauses.ListPauses(pause_service_pb2.ListPausesRequest(), metadata=METADATA, timeout=10)
    for pause in listed.pauses:
        if pause.flow_key:
            pauses.ResumeFlowKey(
                pause_service_pb2.ResumeFlowKeyRequest(key=pause.flow_key), metadata=METADATA, timeout=10
            )
        else:
            request = pause_service_pb2.ResumeHandlerRequest(handler=pause.handler, version=pause.version)
            pauses.ResumeHandler(request, metadata=METADATA, timeout=10)
