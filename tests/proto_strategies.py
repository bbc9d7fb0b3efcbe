"""Hypothesis strategies for any protobuf message, derived from its descriptor.

Every field gets values from its type: strings short, odd (NUL, bidi override,
astral-plane emoji, combining marks) and huge; integers anywhere in their range and
at its bounds; floats including NaN and infinities; unknown enum numbers; nested
messages (depth-limited), repeated fields and maps. google.protobuf.Value and Any
get strategies of their own (JSON-like trees with NaN; Any with known and unknown
type URLs), since their meaning is in their content, not their shape. A few words
the service knows (handler names, version selectors, job ids) are mixed into the
strings, so examples reach past the first validation.
"""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import any_pb2, duration_pb2, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

F = FieldDescriptor
MAX_DEPTH = 4

_INT_RANGES = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1),
    F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1),
    F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1),
    F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1),
    F.TYPE_FIXED64: (0, 2**64 - 1),
}

# Words the service gives meaning to; only handlers of tests.handlers that finish at once.
KNOWN_WORDS = [
    "",
    "echo",
    "greet",
    "fail",
    "resize_image",
    "steps",
    "cached_square",
    "1.0.0",
    "2.0.0",
    "^1",
    "^2",
    "~1.4",
    "*",
    ">=1 <2 || ^2",
    "1.x",
    "00000000-0000-4000-8000-000000000000",
    "fuzz-key",
    "jobsvc.v1.JobSpec",
    "type.googleapis.com/jobsvc.v1.JobSpec",
]
ODD_WORDS = ["\x00", " ", "é", "e\u0301", "\u202eevil", "🙂", "\U0010ffff", "'; DROP TABLE jobs; --", "a" * 300, "\n\t"]


strings = st.one_of(
    st.sampled_from(KNOWN_WORDS),
    st.sampled_from(KNOWN_WORDS),
    st.sampled_from(KNOWN_WORDS),
    st.sampled_from(ODD_WORDS),
    st.text(max_size=40),
    # Huge: up to 1.2 MB of UTF-8 in one field.
    st.builds(lambda char, count: char * count, st.sampled_from(["x", "é", "🙂", "\x00"]), st.integers(1_000, 300_000)),
)


def integers(low: int, high: int) -> st.SearchStrategy[int]:
    """Anywhere in [low, high], with the bounds and small numbers likely."""
    edges = sorted({low, high, max(low, -1), 0 if low <= 0 else low, min(high, 1), min(high, 100), min(high, 10_001)})
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def _value(node: Any) -> struct_pb2.Value:
    """A google.protobuf.Value from a JSON-like tree; floats may be NaN or infinite."""
    value = struct_pb2.Value()
    if node is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(node, bool):
        value.bool_value = node
    elif isinstance(node, float):
        value.number_value = node
    elif isinstance(node, str):
        value.string_value = node
    elif isinstance(node, list):
        value.list_value.values.extend(_value(item) for item in node)
    elif isinstance(node, dict):
        for key, item in node.items():
            value.struct_value.fields[key].CopyFrom(_value(item))
    else:  # the unset Value: no kind at all
        pass
    return value


_odd_numbers = st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 2.0**53 + 1, 1e308])
_json_trees = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(), _odd_numbers, strings),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
values = st.one_of(st.just(struct_pb2.Value()), _json_trees.map(_value))


def _any(type_url: str, value: bytes) -> any_pb2.Any:
    return any_pb2.Any(type_url=type_url, value=value)


def _seconds_and_nanos(cls: type[Message], low: int, high: int, nanos_low: int) -> st.SearchStrategy[Message]:
    """Timestamp or Duration: inside the range its definition allows (and at its ends) or anywhere in int64."""
    seconds = st.one_of(
        st.integers(low, high),
        st.integers(-100_000, 100_000),
        st.sampled_from([low, high, 0, 1_800_000_000]),
        integers(-(2**63), 2**63 - 1),
    )
    nanos = st.one_of(
        st.sampled_from([0, 999_999_999, nanos_low, 1]), st.integers(0, 999_999_999), integers(-(2**31), 2**31 - 1)
    )
    return st.builds(cls, seconds=seconds, nanos=nanos)


def _special() -> dict[str, st.SearchStrategy[Any]]:
    from jobsvc.v1 import job_pb2

    type_urls = st.one_of(
        st.sampled_from(
            [
                "",
                "type.googleapis.com/jobsvc.v1.JobSpec",
                "type.googleapis.com/google.protobuf.Struct",
                "type.googleapis.com/google.protobuf.Duration",
                "type.googleapis.com/no.such.Type",
                "no-slash",
            ]
        ),
        strings,
    )
    any_values = st.one_of(
        st.binary(max_size=64), st.just(job_pb2.JobSpec(handler="echo").SerializeToString()), st.just(b"")
    )
    return {
        "google.protobuf.Value": values,
        "google.protobuf.Struct": st.dictionaries(st.text(max_size=10), _json_trees, max_size=4).map(
            lambda tree: _value(tree).struct_value
        ),
        "google.protobuf.ListValue": st.lists(values, max_size=4).map(lambda items: struct_pb2.ListValue(values=items)),
        "google.protobuf.Any": st.builds(_any, type_urls, any_values),
        "google.protobuf.Timestamp": _seconds_and_nanos(timestamp_pb2.Timestamp, -62_135_596_800, 253_402_300_799, 0),
        "google.protobuf.Duration": _seconds_and_nanos(
            duration_pb2.Duration, -315_576_000_000, 315_576_000_000, -999_999_999
        ),
    }


_cache: dict[tuple[str, int], st.SearchStrategy[Any]] = {}


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    """Messages of this type with any subset of their fields set."""
    key = (descriptor.full_name, depth)
    if key not in _cache:
        _cache[key] = _messages(descriptor, depth)
    return _cache[key]


def _messages(descriptor: Descriptor, depth: int) -> st.SearchStrategy[Message]:
    special = _special().get(descriptor.full_name)
    if special is not None:
        return special
    cls = GetMessageClass(descriptor)
    if depth >= MAX_DEPTH:
        return st.just(cls())
    # deferred: a message that contains itself is built lazily.
    fields = {f.name: st.deferred(lambda f=f: _field(f, depth)) for f in descriptor.fields}
    if not fields:
        return st.just(cls())
    # Mostly a few fields (one bad field hides what the others would reach), sometimes any
    # number. The first field is usually the one a request is about (JobSpec.handler,
    # SubmitRequest.job, GetJobRequest.id), so the sparse ones nearly always set it.
    first = min(descriptor.fields, key=lambda f: f.number).name
    sparse = st.tuples(st.integers(0, 9), st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True)).flatmap(
        lambda pick: st.fixed_dictionaries({name: fields[name] for name in {*pick[1], *([first] if pick[0] else [])}})
    )
    dense = st.fixed_dictionaries({}, optional=fields)
    return st.one_of(sparse, sparse, dense).map(lambda chosen: _build(cls, descriptor, chosen))


def _scalar(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind in _INT_RANGES:
        return integers(*_INT_RANGES[kind])
    if kind == F.TYPE_STRING:
        return strings
    if kind == F.TYPE_BYTES:
        return st.binary(max_size=256)
    if kind == F.TYPE_BOOL:
        return st.booleans()
    if kind == F.TYPE_DOUBLE:
        return st.one_of(st.floats(), st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0]))
    if kind == F.TYPE_FLOAT:
        return st.floats(width=32)
    if kind == F.TYPE_ENUM:
        numbers = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(numbers), integers(-(2**31), 2**31 - 1))  # open enums take any number
    if kind == F.TYPE_MESSAGE:
        return messages(field.message_type, depth + 1)
    raise AssertionError(f"no strategy for {field.full_name} (type {kind})")


def _field(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        key, value = message_type.fields_by_name["key"], message_type.fields_by_name["value"]
        return st.dictionaries(_scalar(key, depth), _scalar(value, depth), max_size=4)
    if field.is_repeated:
        return st.lists(_scalar(field, depth), max_size=4)
    return _scalar(field, depth)


def _build(cls: type[Message], descriptor: Descriptor, chosen: dict[str, Any]) -> Message:
    message = cls()
    for name, value in chosen.items():
        field = descriptor.fields_by_name[name]
        target = getattr(message, name) if field.is_repeated or field.type == F.TYPE_MESSAGE else None
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            for key, item in value.items():
                if value_field.type == F.TYPE_MESSAGE:
                    target[key].CopyFrom(item)
                else:
                    target[key] = item
        elif field.is_repeated:
            if field.type == F.TYPE_MESSAGE:
                for item in value:
                    target.add().CopyFrom(item)
            else:
                target.extend(value)
        elif field.type == F.TYPE_MESSAGE:
            target.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message
