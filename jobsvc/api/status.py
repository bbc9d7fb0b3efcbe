"""The one mapper from domain errors to gRPC statuses with google.rpc details.

Every servicer method runs inside `rpc_errors`, so a caller never sees UNKNOWN:
a JobsvcError becomes its status code with ErrorInfo (and BadRequest or
ResourceInfo), and anything unexpected becomes INTERNAL and is logged.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from jobsvc.api.telemetry import RpcTelemetry
from jobsvc.api.wellformed import first_problem
from jobsvc.domain.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    JobsvcError,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("jobsvc.api")

ERROR_DOMAIN = "jobsvc.v1"

_CODES: list[tuple[type[JobsvcError], int]] = [
    (InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (NotFound, code_pb2.NOT_FOUND),
    (AlreadyExists, code_pb2.ALREADY_EXISTS),
    (FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (OutOfRange, code_pb2.OUT_OF_RANGE),
    (ResourceExhausted, code_pb2.RESOURCE_EXHAUSTED),
    (Unavailable, code_pb2.UNAVAILABLE),
    (Aborted, code_pb2.ABORTED),
    (Unauthenticated, code_pb2.UNAUTHENTICATED),
    (PermissionDenied, code_pb2.PERMISSION_DENIED),
]


def _packed(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def status_for(error: JobsvcError) -> status_pb2.Status:
    """The google.rpc.Status a domain error is answered with."""
    code = next((c for cls, c in _CODES if isinstance(error, cls)), code_pb2.INTERNAL)
    details = [_packed(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata))]
    if isinstance(error, InvalidArgument):
        details.append(
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                        for v in error.violations
                    ]
                )
            )
        )
    elif isinstance(error, NotFound):
        details.append(
            _packed(
                error_details_pb2.ResourceInfo(
                    resource_type=error.resource_type,
                    resource_name=error.resource_name,
                    description=error.message,
                )
            )
        )
    return status_pb2.Status(code=code, message=error.message, details=details)


def internal_status(method: str) -> status_pb2.Status:
    """What a caller sees for a bug: INTERNAL, never UNKNOWN, with nothing leaked."""
    return status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=f"internal error in {method}; see server log",
        details=[_packed(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN))],
    )


async def abort(context: grpc.aio.ServicerContext[Any, Any], status: status_pb2.Status) -> NoReturn:
    """End the RPC with a rich status."""
    await context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("abort_with_status returned")  # pragma: no cover


_UNPARSABLE = FieldViolation("request", "malformed protobuf encoding")


@dataclass(frozen=True, slots=True)
class MalformedRequest:
    """Stands in for a request whose bytes did not parse (or hold a value no method can
    serve, see jobsvc.api.wellformed), so the servicer can answer INVALID_ARGUMENT;
    grpc itself would answer UNKNOWN."""

    method: str
    error: str
    violation: FieldViolation = _UNPARSABLE
    reason: str = "MALFORMED_REQUEST"
    # How the request was encoded: "protobuf", or "JSON" over HTTP (jobsvc.web).
    encoding: str = "protobuf"

    def exception(self) -> InvalidArgument:
        """The error the request is answered with."""
        if self.reason == "MALFORMED_REQUEST":
            message = f"request to {self.method} is not a valid {self.encoding} message: {self.error}"
        else:
            message = f"invalid request: {self.violation.field}: {self.violation.description}"
        return InvalidArgument(message, [self.violation], reason=self.reason)


@dataclass(frozen=True, slots=True)
class OversizedRequest(MalformedRequest):
    """Stands in for a request above the configured size limit (answered RESOURCE_EXHAUSTED
    with the limit in its message and ErrorInfo; grpc's own answer names no setting)."""

    size: int = 0
    limit: int = 0


def tolerant_parser(
    parse: Callable[[bytes], Any], method: str, limit: int | None, encoding: str = "protobuf"
) -> Callable[[bytes], Any]:
    """`parse`, answering a MalformedRequest or OversizedRequest instead of raising (grpc would
    answer UNKNOWN); requests that parse are checked by jobsvc.api.wellformed too."""

    def deserialize(data: bytes) -> Any:
        if limit is not None and len(data) > limit:
            return OversizedRequest(method, f"{len(data)} bytes", size=len(data), limit=limit)
        try:
            request = parse(data)
        except Exception as exc:  # any parse failure is the caller's malformed request
            if encoding == "protobuf":
                return MalformedRequest(method, str(exc))
            violation = FieldViolation("request", f"malformed {encoding} encoding")
            return MalformedRequest(method, str(exc), violation, encoding=encoding)
        problem = first_problem(request)
        if problem is not None:
            return MalformedRequest(method, problem.description, problem, "INVALID_ARGUMENT")
        return request

    return deserialize


MethodGuard = Callable[[MethodDescriptor, Callable[..., Any]], Callable[..., Any]]

# What a caller can do about a response over the limit, per method. The limits on
# payloads keep every response of a job under it (jobsvc.domain.limits): this is for
# jobs stored before them, and for what the limits cannot foresee.
_OVERSIZED_HINTS = {
    "GetJob": "; ask for view JOB_VIEW_BASIC (no input or result)",
    "ListJobs": "; ask for view JOB_VIEW_BASIC (no input or result)",
    "Call": "; the job is done: read it with GetJob, view JOB_VIEW_BASIC",
    "Submit": "; the job is stored: read it with GetJob, view JOB_VIEW_BASIC",
    "SubmitBatch": "; the jobs are stored: list them with ListJobs, view JOB_VIEW_BASIC",
    "CancelJob": "; the cancel was carried out: read the job with GetJob, view JOB_VIEW_BASIC",
    "RedriveJob": "; the new job is stored: find it with ListJobs, view JOB_VIEW_BASIC",
    "Stream": "; the event after the last one received is too large: resume with after_sequence past it",
}


def _already_serialized(data: bytes) -> bytes:
    return data


async def _over_limit(data: bytes, limit: int, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> NoReturn:
    """Answer a response over the limit with RESOURCE_EXHAUSTED naming the limit, instead of
    grpc's own (which names no setting, and logs an error with a traceback)."""
    error = ResourceExhausted(
        f"the response of {method} is {len(data)} bytes, over the limit of {limit} bytes "
        f"(server option --max-message-bytes){_OVERSIZED_HINTS.get(method, '')}",
        reason="RESPONSE_TOO_LARGE",
        metadata={"method": method, "size": str(len(data)), "limit": str(limit)},
    )
    log.warning("%s", error.message)
    await abort(context, status_for(error))


def _bounded(
    behaviour: Callable[..., Any], method: MethodDescriptor, limit: int, serialize: Callable[[Any], bytes]
) -> Callable[..., Any]:
    """`behaviour` answering serialized responses, each checked against `limit`."""
    name = method.name
    if method.server_streaming:

        async def bounded_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
            # aclosing: a caller that leaves closes the servicer's generator now, not at GC.
            async with contextlib.aclosing(behaviour(request, context)) as responses:
                async for response in responses:
                    data = serialize(response)
                    yield data if len(data) <= limit else await _over_limit(data, limit, name, context)

        return bounded_stream

    async def bounded(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        data = serialize(await behaviour(request, context))
        return data if len(data) <= limit else await _over_limit(data, limit, name, context)

    return bounded


@dataclass(frozen=True)
class MethodHandling:
    """One method as every transport serves it: the behaviour (error mapping, response size
    limit, token and scope check, telemetry, in that order inside out) and its codecs."""

    path: str
    method: MethodDescriptor
    request_class: Any
    response_class: Any
    behaviour: Callable[..., Any]
    # Bytes -> request, or a MalformedRequest/OversizedRequest for the servicer to answer.
    deserializer: Callable[[bytes], Any]
    serializer: Callable[[Any], bytes]


def method_handling(
    servicer: object,
    method: MethodDescriptor,
    guard: MethodGuard,
    telemetry: RpcTelemetry | None = None,
    *,
    max_request_bytes: int | None = None,
    max_response_bytes: int | None = None,
) -> MethodHandling:
    """How `method` of `servicer` is served: the same chain for gRPC (add_service) and for
    HTTP (jobsvc.web), so both answer the same codes with the same details."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    behaviour = getattr(servicer, method.name)
    serializer: Callable[[Any], bytes] = response_class.SerializeToString
    if max_response_bytes is not None:
        # Serialized here, once, to be measured: grpc passes the bytes on as they are.
        behaviour = _bounded(behaviour, method, max_response_bytes, serializer)
        serializer = _already_serialized
    behaviour = guard(method, behaviour)
    if telemetry is not None and telemetry.active:
        behaviour = telemetry.wrap(behaviour, path, method.server_streaming)
    return MethodHandling(
        path,
        method,
        request_class,
        response_class,
        behaviour,
        tolerant_parser(request_class.FromString, path, max_request_bytes),
        serializer,
    )


def add_service(
    server: grpc.aio.Server,
    servicer: object,
    service: ServiceDescriptor,
    guard: MethodGuard,
    telemetry: RpcTelemetry | None = None,
    *,
    max_request_bytes: int | None = None,
    max_response_bytes: int | None = None,
) -> None:
    """Register a servicer whose requests that fail to parse reach it as MalformedRequest
    (and those above max_request_bytes as OversizedRequest), and whose responses above
    max_response_bytes are answered RESOURCE_EXHAUSTED (reason RESPONSE_TOO_LARGE).

    Used instead of the generated add_*_to_server, whose deserializers raise into
    grpc, which then answers UNKNOWN. `guard` wraps each method's behavior (the
    token and scope check of jobsvc.api.auth) and may refuse a method at start. With
    telemetry, every method is timed (and traced), refusals included.
    """
    handlers = {}
    for method in service.methods:
        handling = method_handling(
            servicer,
            method,
            guard,
            telemetry,
            max_request_bytes=max_request_bytes,
            max_response_bytes=max_response_bytes,
        )
        factory = (
            grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
        )
        if method.client_streaming:
            factory = (
                grpc.stream_stream_rpc_method_handler
                if method.server_streaming
                else grpc.stream_unary_rpc_method_handler
            )
        handlers[method.name] = factory(
            handling.behaviour,
            request_deserializer=handling.deserializer,
            response_serializer=handling.serializer,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))


def _reject_malformed(request: object) -> None:
    if isinstance(request, OversizedRequest):
        raise ResourceExhausted(
            f"request to {request.method} is {request.size} bytes, over the limit of {request.limit} bytes"
            " (server option --max-message-bytes)",
            metadata={"field": "request", "limit": str(request.limit), "size": str(request.size)},
        )
    if isinstance(request, MalformedRequest):
        raise request.exception()


Req = TypeVar("Req")
Resp = TypeVar("Resp")
Servicer = TypeVar("Servicer")


@asynccontextmanager
async def _answering_errors(
    request: object, context: grpc.aio.ServicerContext[Any, Any], name: str
) -> AsyncIterator[None]:
    """Run a servicer body; answer its failure with the mapped status (never UNKNOWN)."""
    try:
        _reject_malformed(request)
        yield
    except grpc.aio.AbortError:
        raise
    except JobsvcError as exc:
        await abort(context, status_for(exc))
    except Exception:
        log.exception("unexpected error in %s", name)
        await abort(context, internal_status(name))


def unary(
    method: Callable[[Servicer, Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]],
) -> Callable[[Servicer, Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]]:
    """Wrap a unary servicer method with the error mapping."""

    @functools.wraps(method)
    async def wrapped(self: Servicer, request: Req, context: grpc.aio.ServicerContext[Req, Resp]) -> Resp:
        async with _answering_errors(request, context, method.__qualname__):
            return await method(self, request, context)
        raise AssertionError("unreachable: the error was answered with abort")  # pragma: no cover

    return wrapped


def server_streaming(
    method: Callable[[Servicer, Req, grpc.aio.ServicerContext[Req, Resp]], AsyncIterator[Resp]],
) -> Callable[[Servicer, Req, grpc.aio.ServicerContext[Req, Resp]], AsyncIterator[Resp]]:
    """Wrap a server-streaming servicer method with the error mapping."""

    @functools.wraps(method)
    async def wrapped(
        self: Servicer,
        request: Req,
        context: grpc.aio.ServicerContext[Req, Resp],
    ) -> AsyncIterator[Resp]:
        async with _answering_errors(request, context, method.__qualname__):
            async for item in method(self, request, context):
                yield item

    return wrapped
