"""The Connect protocol's wire format (https://connectrpc.com/docs/protocol): content types,
error JSON, HTTP statuses and the envelopes of streaming bodies. Nothing here knows jobsvc's
services; jobsvc.web.rpc uses it to serve them.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import grpc
from google.protobuf import json_format
from google.rpc import code_pb2, error_details_pb2, status_pb2

from jobsvc.api.status import ERROR_DOMAIN

UNARY_JSON = "application/json"
UNARY_PROTO = "application/proto"
STREAM_JSON = "application/connect+json"
STREAM_PROTO = "application/connect+proto"
UNARY_TYPES = (UNARY_JSON, UNARY_PROTO)
STREAM_TYPES = (STREAM_JSON, STREAM_PROTO)

# An envelope: one flags byte, a 4-byte big-endian length, the message.
ENVELOPE_HEADER = struct.Struct(">BI")
FLAG_COMPRESSED = 0x01
FLAG_END_STREAM = 0x02

# The protocol's HTTP status for each code (unary errors; streams always answer 200).
_HTTP_STATUS = {
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
    code_pb2.UNAUTHENTICATED: 401,
}


def code_name(code: int) -> str:
    """The protocol's name of a google.rpc code: `invalid_argument` (and `canceled`, its spelling)."""
    if code == code_pb2.CANCELLED:
        return "canceled"
    return str(code_pb2.Code.Name(code)).lower()


def http_status(code: int) -> int:
    """The HTTP status a unary error with this code is answered with."""
    return _HTTP_STATUS.get(code, 500)


def grpc_code(code: grpc.StatusCode) -> int:
    """google.rpc's number for a grpc.StatusCode."""
    number: int = code.value[0]
    return number


def error_json(status: status_pb2.Status) -> dict[str, Any]:
    """A google.rpc.Status as the protocol's error object: code, message and details, each
    detail its type name, its bytes (base64) and, for people reading curl's output, `debug`."""
    details = []
    for detail in status.details:
        entry: dict[str, Any] = {
            "type": detail.type_url.rsplit("/", 1)[-1],
            "value": base64.b64encode(detail.value).decode().rstrip("="),
        }
        try:
            debug = json_format.MessageToDict(detail)
            debug.pop("@type", None)
            entry["debug"] = debug
        except (json_format.Error, TypeError):  # a type this process does not know: bytes only
            pass
        details.append(entry)
    error: dict[str, Any] = {"code": code_name(status.code), "message": status.message}
    if details:
        error["details"] = details
    return error


def protocol_error(code: int, message: str, reason: str) -> status_pb2.Status:
    """An error of the HTTP layer itself (no such method, wrong content type), in the same shape
    as the services' errors: a google.rpc.Status with an ErrorInfo."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN)
    status = status_pb2.Status(code=code, message=message)
    status.details.add().Pack(info)
    return status


def envelope(flags: int, data: bytes) -> bytes:
    """One enveloped message of a streaming body."""
    return ENVELOPE_HEADER.pack(flags, len(data)) + data


def end_stream(status: status_pb2.Status | None, metadata: dict[str, list[str]] | None = None) -> bytes:
    """The last envelope of a streaming response: the error, if any, and trailing metadata."""
    message: dict[str, Any] = {}
    if status is not None and status.code != code_pb2.OK:
        message["error"] = error_json(status)
    if metadata:
        message["metadata"] = metadata
    return envelope(FLAG_END_STREAM, json.dumps(message).encode())


class EnvelopeError(ValueError):
    """A streaming request body that is not exactly one uncompressed envelope."""


def single_message(body: bytes) -> bytes:
    """The message of a server-streaming request: exactly one envelope, not compressed."""
    if len(body) < ENVELOPE_HEADER.size:
        raise EnvelopeError(f"a streaming request is one enveloped message; got {len(body)} bytes")
    flags, length = ENVELOPE_HEADER.unpack_from(body)
    if flags & FLAG_COMPRESSED:
        raise EnvelopeError("compressed messages are not supported (send Connect-Content-Encoding: identity)")
    if flags != 0 or len(body) != ENVELOPE_HEADER.size + length:
        raise EnvelopeError(
            f"a streaming request is one enveloped message: flags 0 and {length} bytes announced, "
            f"{len(body) - ENVELOPE_HEADER.size} sent"
        )
    return body[ENVELOPE_HEADER.size :]
