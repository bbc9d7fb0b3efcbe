"""Between handler values and stored payloads: JSON values pass through, protobuf
messages travel as (type URL, bytes) so the store never needs their classes."""

from __future__ import annotations

import json
import math
from typing import Any

from google.protobuf.message import DecodeError, Message

from jobsvc.domain.handlers import HandlerDefinition
from jobsvc.domain.jobs import JobError, Payload, contains_nul
from jobsvc.domain.limits import PARTIAL_OUTPUT_TOO_LARGE, RESULT_TOO_LARGE, payload_size
from jobsvc.domain.values import JsonValue

TYPE_URL_PREFIX = "type.googleapis.com/"


class PayloadError(Exception):
    """A value that cannot cross the handler boundary (not JSON, wrong message type)."""


class PayloadTooLarge(PayloadError):
    """A result or partial output over the payload limit: it could never be read back."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        # The JobError type the attempt fails with (jobsvc.ResultTooLarge, ...).
        self.error_type = error_type

    def job_error(self, attempt: int, traceback: str = "") -> JobError:
        """The attempt's error."""
        return JobError(self.error_type, str(self), traceback, attempt=attempt, non_retryable=True)


def checked_size(payload: Payload, limit: int | None, what: str) -> Payload:
    """The payload, or PayloadTooLarge when it is over `limit` bytes (None: no limit known)."""
    if limit is None:
        return payload
    size = payload_size(payload)
    if size > limit:
        error_type = RESULT_TOO_LARGE if what == "result" else PARTIAL_OUTPUT_TOO_LARGE
        message = f"the {what} is {size} bytes, over the limit of {limit} bytes (server option --max-payload-bytes)"
        raise PayloadTooLarge(error_type, message)
    return payload


def decode_input(definition: HandlerDefinition, payload: Payload) -> Any:
    """The value a handler receives: a parsed message for typed handlers, else JSON."""
    if definition.input_type is None:
        if payload.is_proto:
            raise PayloadError(f"handler {definition.key} takes JSON input, got {payload.type_name}")
        return payload.json
    if not payload.is_proto:
        raise PayloadError(f"handler {definition.key} takes {definition.input_type.DESCRIPTOR.full_name}")
    message: Message = definition.input_type()
    try:
        message.ParseFromString(payload.data or b"")
    except DecodeError as exc:
        raise PayloadError(f"input is not a valid {message.DESCRIPTOR.full_name}: {exc}") from exc
    return message


def encode_value(value: Any) -> Payload:
    """A handler's result or partial output as a payload."""
    if isinstance(value, Message):
        return Payload(type_url=TYPE_URL_PREFIX + value.DESCRIPTOR.full_name, data=value.SerializeToString())
    plain: JsonValue = value
    if not _is_plain_json(value):
        try:
            # Round-trip the rest (tuples, int keys...) so that what cannot be JSON fails here,
            # in the job, rather than later in the store, far from its cause.
            plain = json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise PayloadError(f"value is not JSON-serializable: {exc}") from exc
    if contains_nul(plain):
        raise PayloadError("value contains the character U+0000 (NUL), which cannot be stored")
    return Payload(json=plain)


def _is_plain_json(value: Any) -> bool:
    """Already exactly JSON (str keys, finite numbers, lists): most results; checking is
    several times cheaper than the JSON round trip."""
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_is_plain_json(item) for item in value)
    if kind is dict:
        return all(type(key) is str and _is_plain_json(item) for key, item in value.items())
    return False
