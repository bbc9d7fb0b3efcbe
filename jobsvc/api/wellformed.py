"""Checks every request message gets before a servicer sees it, whatever its type.

Three kinds of value parse as protobuf but cannot be served, and would otherwise
surface deep inside as INTERNAL (found by tests/test_fuzz_api.py):

- text containing U+0000: PostgreSQL's text and jsonb cannot store it;
- NaN and infinities in floating-point fields: jobsvc stores them as JSON, which
  has neither (google.protobuf.Value's number_value included);
- google.protobuf.Timestamp and Duration outside the ranges their definitions
  allow (years 1-9999; +-10,000 years), which Python's datetime cannot represent.

The walk visits set fields only; it names the offending field the way the rest
of the API does (`jobs[2].labels["k"]`, `job.input.a.b`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from jobsvc.domain.errors import FieldViolation

_TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)  # 0001-01-01 .. 9999-12-31T23:59:59
_DURATION_SECONDS = 315_576_000_000  # 10,000 years
_NANOS = 999_999_999
_FLOATING = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)
# JSON-like wrappers: their own field names are left out of paths (`input.a`, not
# `input.json.struct_value.fields["a"]`).
_TRANSPARENT = {"jobsvc.v1.Payload.json", "google.protobuf.Value", "google.protobuf.ListValue"}


def first_problem(message: Message, path: str = "") -> FieldViolation | None:
    """The first value in the message that cannot be served, or None."""
    return next(_problems(message, path), None)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _problems(message: Message, path: str) -> Iterator[FieldViolation]:
    full_name = message.DESCRIPTOR.full_name
    if full_name == "google.protobuf.Timestamp":
        yield from _timestamp(message, path)
        return
    if full_name == "google.protobuf.Duration":
        yield from _duration(message, path)
        return
    if full_name == "google.protobuf.Struct":
        for key, item in message.fields.items():  # type: ignore[attr-defined]
            yield from _text(key, f"{path}[{key!r}]")
            yield from _problems(item, _join(path, key))
        return
    transparent = full_name in _TRANSPARENT
    for field, value in message.ListFields():
        field_path = path if transparent or field.full_name in _TRANSPARENT else _join(path, field.name)
        yield from _field(field, value, field_path)


def _field(field: FieldDescriptor, value: Any, path: str) -> Iterator[FieldViolation]:
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        value_field = message_type.fields_by_name["value"]
        for key, item in value.items():
            item_path = f"{path}[{key!r}]"
            if isinstance(key, str):
                yield from _text(key, item_path)
            yield from _single(value_field, item, item_path)
    elif field.is_repeated:
        for index, item in enumerate(value):
            yield from _single(field, item, f"{path}[{index}]")
    else:
        yield from _single(field, value, path)


def _single(field: FieldDescriptor, value: Any, path: str) -> Iterator[FieldViolation]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        yield from _text(value, path)
    elif kind == FieldDescriptor.TYPE_MESSAGE:
        yield from _problems(value, path)
    elif kind in _FLOATING and not math.isfinite(value):
        yield FieldViolation(path or "request", "must be a finite number (JSON has no NaN or Infinity)")


def _text(value: str, path: str) -> Iterator[FieldViolation]:
    if "\x00" in value:
        yield FieldViolation(path or "request", "must not contain the character U+0000 (NUL)")


def _timestamp(message: Any, path: str) -> Iterator[FieldViolation]:
    low, high = _TIMESTAMP_SECONDS
    if not low <= message.seconds <= high or not 0 <= message.nanos <= _NANOS:
        yield FieldViolation(path, "timestamp out of range: years 1 to 9999, nanos 0 to 999999999")


def _duration(message: Any, path: str) -> Iterator[FieldViolation]:
    seconds, nanos = message.seconds, message.nanos
    if abs(seconds) > _DURATION_SECONDS or abs(nanos) > _NANOS or (seconds * nanos < 0):
        yield FieldViolation(path, "duration out of range: at most 10,000 years, seconds and nanos of one sign")
