"""Checks every request message gets before a servicer sees it, whatever its type.

Three kinds of value parse as protobuf but cannot be served, and would otherwise
surface deep inside as INTERNAL (found by tests/api/test_fuzz_api.py):

- text containing U+0000: PostgreSQL's text and jsonb cannot store it;
- NaN and infinities in floating-point fields: jobsvc stores them as JSON, which
  has neither (google.protobuf.Value's number_value included);
- google.protobuf.Timestamp and Duration outside the ranges their definitions
  allow (years 1-9999; +-10,000 years), which Python's datetime cannot represent.

The walk visits set fields only, and only the fields of each message type that can
hold such a value (a plan per type, made once); the offending field's path is built
only when there is one, the way the rest of the API names fields
(`jobs[2].labels['k']`, `job.input.a[1]`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from jobsvc.domain.errors import FieldViolation

_TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)  # 0001-01-01 .. 9999-12-31T23:59:59
_DURATION_SECONDS = 315_576_000_000  # 10,000 years
_NANOS = 999_999_999
_FLOATING = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)
NUL = "must not contain the character U+0000 (NUL)"
NOT_FINITE = "must be a finite number (JSON has no NaN or Infinity)"

# A problem found below a message: the path segments from the innermost out, and what is wrong.
_Found = tuple[list[str], str]
# Checks one set field's value; None when it is fine.
_Check = Callable[[Any], _Found | None]


def first_problem(message: Message) -> FieldViolation | None:
    """The first value in the message that cannot be served, or None."""
    found = _check_message(message)
    if found is None:
        return None
    segments, description = found
    path = ""
    for segment in reversed(segments):
        path = segment if not path else (f"{path}{segment}" if segment.startswith("[") else f"{path}.{segment}")
    return FieldViolation(path or "request", description)


def _check_message(message: Message) -> _Found | None:
    descriptor = cast(Descriptor, message.DESCRIPTOR)  # the upb Descriptor is the same type at runtime
    plan = _plan(descriptor)
    if plan is None:
        return None
    if callable(plan):
        return plan(message)
    for field, value in message.ListFields():
        step = plan.get(field.number)
        if step is not None:
            check, segment = step
            found = check(value)
            if found is not None:
                if segment:
                    found[0].append(segment)
                return found
    return None


# What to check in a message type: per field number, the check and the field's path
# segment; or one check for the whole message (well-known types); or None.
_Plan = dict[int, tuple[_Check, str]] | _Check | None
# Made once per message type (a cache of what the descriptors say, not state).
_plans: dict[Descriptor, _Plan] = {}
_planning: set[str] = set()


def _plan(descriptor: Descriptor) -> _Plan:
    """The checks of a message type's fields; None when nothing in it can be wrong."""
    if descriptor not in _plans:
        _planning.add(descriptor.full_name)
        try:
            _plans[descriptor] = _make_plan(descriptor)
        finally:
            _planning.discard(descriptor.full_name)
    return _plans[descriptor]


def _make_plan(descriptor: Descriptor) -> _Plan:
    special: dict[str, _Check] = {
        "google.protobuf.Timestamp": _timestamp,
        "google.protobuf.Duration": _duration,
        "google.protobuf.Value": _json_value,
        "google.protobuf.Struct": _json_struct,
        "google.protobuf.ListValue": _json_list,
    }
    if descriptor.full_name in special:
        return special[descriptor.full_name]
    checks = {}
    for field in descriptor.fields:
        check = _field_check(field)
        if check is not None:
            # Payload.json is left out of paths: `job.input.a`, not `job.input.json.a`.
            segment = "" if field.full_name == "jobsvc.v1.Payload.json" else field.name
            checks[field.number] = (check, segment)
    return checks or None


def _field_check(field: FieldDescriptor) -> _Check | None:
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        key_check = _single_check(message_type.fields_by_name["key"])
        value_check = _single_check(message_type.fields_by_name["value"])
        if key_check is None and value_check is None:
            return None
        return lambda items: _map(items, key_check, value_check)
    single = _single_check(field)
    if single is None or not field.is_repeated:
        return single
    return lambda items: _repeated(items, single)


def _single_check(field: FieldDescriptor) -> _Check | None:
    if field.type == FieldDescriptor.TYPE_STRING:
        return _text
    if field.type in _FLOATING:
        return _finite
    message_type = field.message_type
    # A type that contains itself is still being planned here: check it when met.
    if message_type is not None and (message_type.full_name in _planning or _plan(message_type) is not None):
        return _check_message
    return None


def _repeated(items: Any, check: _Check) -> _Found | None:
    for index, item in enumerate(items):
        found = check(item)
        if found is not None:
            found[0].append(f"[{index}]")
            return found
    return None


def _map(items: Any, key_check: _Check | None, value_check: _Check | None) -> _Found | None:
    for key, item in items.items():
        found = (key_check(key) if key_check else None) or (value_check(item) if value_check else None)
        if found is not None:
            found[0].append(f"[{key!r}]")
            return found
    return None


def _text(value: str) -> _Found | None:
    return ([], NUL) if "\x00" in value else None


def _finite(value: float) -> _Found | None:
    return None if math.isfinite(value) else ([], NOT_FINITE)


def _json_value(value: Any) -> _Found | None:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return _text(value.string_value)
    if kind == "number_value":
        return _finite(value.number_value)
    if kind == "struct_value":
        return _json_struct(value.struct_value)
    if kind == "list_value":
        return _json_list(value.list_value)
    return None


def _json_struct(struct: Any) -> _Found | None:
    for key, item in struct.fields.items():
        found = _text(key) or _json_value(item)
        if found is not None:
            found[0].append(key)
            return found
    return None


def _json_list(values: Any) -> _Found | None:
    return _repeated(values.values, _json_value)


def _timestamp(message: Any) -> _Found | None:
    low, high = _TIMESTAMP_SECONDS
    if low <= message.seconds <= high and 0 <= message.nanos <= _NANOS:
        return None
    return [], "timestamp out of range: years 1 to 9999, nanos 0 to 999999999"


def _duration(message: Any) -> _Found | None:
    seconds, nanos = message.seconds, message.nanos
    if abs(seconds) <= _DURATION_SECONDS and abs(nanos) <= _NANOS and seconds * nanos >= 0:
        return None
    return [], "duration out of range: at most 10,000 years, seconds and nanos of one sign"
