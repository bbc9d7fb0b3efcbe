"""jobsvc's services over HTTP with the Connect protocol: `POST /jobsvc.v1.SubmitService/Submit`
with a JSON (`application/json`) or binary (`application/proto`) body, and Stream as a
server stream of enveloped messages (`application/connect+json`, `application/connect+proto`).

Each method runs through jobsvc.api.status.method_handling, the chain gRPC uses (token and
scope check, the servicer, its error mapping, the response size limit, telemetry), with an
HttpServicerContext standing in for grpc's: both transports give the same answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2

from jobsvc.api.status import MethodHandling, OversizedRequest, internal_status, tolerant_parser
from jobsvc.web import connect
from jobsvc.web.context import HttpAbort, HttpServicerContext, Metadata

log = logging.getLogger("jobsvc.http")

Scope = Mapping[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Connect-Timeout-Ms: at most 10 digits (the protocol's own bound).
MAX_TIMEOUT_DIGITS = 10
# A body over the limit is read up to this many times the limit before the answer goes out.
DRAIN_FACTOR = 4


class ClientGone(Exception):
    """The client closed the connection before its request was read."""


@dataclass(frozen=True)
class Request:
    """What the protocol layer makes of one HTTP request before a servicer sees it."""

    handling: MethodHandling
    content_type: str
    headers: list[tuple[str, str]]
    peer: str
    deadline: float | None

    @property
    def json(self) -> bool:
        """True when the bodies are JSON (else binary protobuf)."""
        return self.content_type in (connect.UNARY_JSON, connect.STREAM_JSON)


class ProtocolError(Exception):
    """A request the protocol itself refuses, before any servicer runs."""

    def __init__(self, http_status: int, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.http_status = http_status
        self.status = status


def _headers(scope: Scope) -> list[tuple[str, str]]:
    return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope.get("headers", ())]


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k == name), None)


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    if not client:
        return "unknown"
    host, port = client[0], client[1]
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"


def _deadline(headers: list[tuple[str, str]]) -> float | None:
    value = _header(headers, "connect-timeout-ms")
    if value is None:
        return None
    if not value.isdigit() or len(value) > MAX_TIMEOUT_DIGITS:
        raise ProtocolError(
            400,
            connect.protocol_error(
                code_pb2.INVALID_ARGUMENT, "Connect-Timeout-Ms must be 1 to 10 digits", "BAD_TIMEOUT"
            ),
        )
    return time.monotonic() + int(value) / 1000


def _check_encoding(headers: list[tuple[str, str]], streaming: bool) -> None:
    name = "connect-content-encoding" if streaming else "content-encoding"
    encoding = (_header(headers, name) or "identity").strip().lower()
    if encoding != "identity":
        raise ProtocolError(
            501 if not streaming else 200,
            connect.protocol_error(
                code_pb2.UNIMPLEMENTED,
                f"{name} {encoding!r} is not supported; send bodies uncompressed (identity)",
                "UNSUPPORTED_ENCODING",
            ),
        )


class ConnectRoutes:
    """The RPC half of the HTTP port: one route per method of the services given."""

    def __init__(self, handlings: Mapping[str, MethodHandling], max_request_bytes: int) -> None:
        self._handlings = dict(handlings)
        self._max_request_bytes = max_request_bytes

    def __contains__(self, path: str) -> bool:
        return path in self._handlings

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request to a method's path (the caller checked `path in self`)."""
        handling = self._handlings[scope["path"]]
        try:
            request = self._request(scope, handling)
            body = await self._read_body(receive, request)
            message = self._parse(request, body)
        except ProtocolError as exc:
            await _send_error(send, exc.http_status, exc.status, streaming=exc.http_status == 200)
            return
        except ClientGone:
            return
        run = self._stream if handling.method.server_streaming else self._unary
        await _until_disconnect(run(request, message, send), receive)

    def _request(self, scope: Scope, handling: MethodHandling) -> Request:
        if scope["method"] != "POST":
            raise ProtocolError(
                405, connect.protocol_error(code_pb2.UNIMPLEMENTED, "RPCs are called with POST", "METHOD_NOT_ALLOWED")
            )
        headers = _headers(scope)
        content_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
        streaming = handling.method.server_streaming
        accepted = connect.STREAM_TYPES if streaming else connect.UNARY_TYPES
        if content_type not in accepted:
            raise ProtocolError(
                415,
                connect.protocol_error(
                    code_pb2.UNIMPLEMENTED,
                    f"{handling.path} takes Content-Type {' or '.join(accepted)}, not {content_type or 'none'!r}",
                    "UNSUPPORTED_CONTENT_TYPE",
                ),
            )
        _check_encoding(headers, streaming)
        return Request(handling, content_type, headers, _peer(scope), _deadline(headers))

    async def _read_body(self, receive: Receive, request: Request) -> bytes | OversizedRequest:
        """The body, or an OversizedRequest as soon as it passes the limit (the rest is not read)."""
        limit = self._max_request_bytes
        if request.handling.method.server_streaming:
            limit += connect.ENVELOPE_HEADER.size
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            elif chunks:
                chunks = []  # over the limit: the rest is read (so the connection stays usable) and dropped
            # Past the drain bound the answer goes out at once (the connection is then closed).
            if not message.get("more_body", False) or size > DRAIN_FACTOR * limit:
                break
        if size > limit:
            return OversizedRequest(request.handling.path, f"{size} bytes", size=size, limit=limit)
        return b"".join(chunks)

    def _parse(self, request: Request, body: bytes | OversizedRequest) -> Any:
        """The request message, or a MalformedRequest/OversizedRequest the servicer answers
        (after the token check, as over gRPC)."""
        if isinstance(body, OversizedRequest):
            return body
        handling = request.handling
        if handling.method.server_streaming:
            try:
                body = connect.single_message(body)
            except connect.EnvelopeError as exc:
                raise ProtocolError(
                    200, connect.protocol_error(code_pb2.INVALID_ARGUMENT, str(exc), "MALFORMED_ENVELOPE")
                ) from None
        if not request.json:
            return handling.deserializer(body)
        request_class = handling.request_class

        def parse_json(data: bytes) -> Any:
            return json_format.Parse(data, request_class(), ignore_unknown_fields=False)

        return tolerant_parser(parse_json, handling.path, None, encoding="JSON")(body)

    def _context(self, request: Request, on_headers: Callable[[Metadata], Awaitable[None]] | None = None) -> Any:
        return HttpServicerContext(request.headers, request.peer, request.deadline, on_headers)

    def _encode(self, request: Request, result: Any) -> bytes:
        data = request.handling.serializer(result)
        if not request.json:
            return data
        message = request.handling.response_class.FromString(data)
        return json.dumps(json_format.MessageToDict(message), separators=(",", ":")).encode()

    async def _unary(self, request: Request, message: Any, send: Send) -> None:
        context = self._context(request)
        try:
            async with _deadline_of(request):
                result = await request.handling.behaviour(message, context)
            body = self._encode(request, result)
        except HttpAbort as exc:
            await _send_error(send, connect.http_status(exc.status.code), exc.status, extra=context.initial_metadata)
            return
        except DeadlinePassed as exc:
            await _send_error(send, 504, exc.status, extra=context.initial_metadata)
            return
        headers = [("content-type", request.content_type), *context.initial_metadata]
        await _respond(send, 200, headers, body)

    async def _stream(self, request: Request, message: Any, send: Send) -> None:
        started = False

        async def start(_: Metadata = ()) -> None:
            nonlocal started
            if not started:
                started = True
                headers = [("content-type", request.content_type), *context.initial_metadata]
                await send({"type": "http.response.start", "status": 200, "headers": _encoded(headers)})

        context = self._context(request, start)
        status: status_pb2.Status | None = None
        try:
            async with (
                _deadline_of(request),
                contextlib.aclosing(request.handling.behaviour(message, context)) as responses,
            ):
                async for item in responses:
                    await start()
                    chunk = connect.envelope(0, self._encode(request, item))
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except HttpAbort as exc:
            status = exc.status
        except DeadlinePassed as exc:
            status = exc.status
        await start()
        await send({"type": "http.response.body", "body": connect.end_stream(status), "more_body": False})


class DeadlinePassed(Exception):
    """The request's Connect-Timeout-Ms passed before its answer was ready."""

    status = connect.protocol_error(
        code_pb2.DEADLINE_EXCEEDED, "the deadline (Connect-Timeout-Ms) passed", "DEADLINE_EXCEEDED"
    )


@contextlib.asynccontextmanager
async def _deadline_of(request: Request) -> AsyncIterator[None]:
    if request.deadline is None:
        yield
        return
    try:
        async with asyncio.timeout_at(asyncio.get_running_loop().time() + request.deadline - time.monotonic()):
            yield
    except TimeoutError:
        raise DeadlinePassed from None


async def _until_disconnect(answer: Awaitable[None], receive: Receive) -> None:
    """Run `answer`, cancelled when the client goes away (a Call or Stream it left)."""
    task = asyncio.ensure_future(answer)

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watch = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _encoded(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def _respond(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _encoded(headers)})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_error(
    send: Send,
    http_status: int,
    status: status_pb2.Status,
    *,
    streaming: bool = False,
    extra: list[tuple[str, str]] | None = None,
) -> None:
    """An error as the protocol answers it: a JSON body for unary calls; for streams, 200 and
    an end-of-stream envelope carrying the error."""
    if streaming:
        headers = [("content-type", connect.STREAM_JSON), *(extra or [])]
        await _respond(send, 200, headers, connect.end_stream(status))
        return
    headers = [("content-type", connect.UNARY_JSON), *(extra or [])]
    await _respond(send, http_status, headers, json.dumps(connect.error_json(status)).encode())


async def send_internal_error(send: Send, path: str) -> None:
    """The answer to a bug in the HTTP layer: INTERNAL with a body, never a bare 500."""
    await _send_error(send, 500, internal_status(path))
