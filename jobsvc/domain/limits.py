"""How big the parts of a job may be, so that every response about it fits in one message.

Every response about a job (Call, GetJob, each ListJobs entry, CancelJob, a worker's
Assignment) carries its input and its result, and one message is at most
`max_message_bytes` (M). The limits below are chosen so that it always fits:

    input (<= P) + result (<= P) + errors (<= M/16) + everything else (<= M/16) <= M

with P = `max_payload_bytes`, by default (M - M/8) / 2 = 7/16 of M (1.75 MiB of 4 MiB).
"Everything else" (labels, keys, names, times) is at most about 20 KiB whatever the
request; the errors of a job are cut to their budget when a response is built
(`fit_errors`), since a job may fail up to 1,000 times. Stream events carry one
payload or one error each, so they fit too.

Sizes are those of the protobuf encoding (what goes on the wire), computed here from
the domain values without protobuf: `payload_size` is exact (tests compare it with
the protobuf runtime).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from jobsvc.domain.jobs import JobError, Payload
from jobsvc.domain.values import JsonValue

DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Error types a size limit gives an attempt; none of them is retried (the same handler
# with the same input would produce the same bytes).
RESULT_TOO_LARGE = "jobsvc.ResultTooLarge"
PARTIAL_OUTPUT_TOO_LARGE = "jobsvc.PartialOutputTooLarge"
INPUT_TOO_LARGE = "jobsvc.InputTooLarge"
# A progress message is a status line for people: longer ones are cut (not refused).
MAX_PROGRESS_MESSAGE_BYTES = 4096
# Steps of one workflow: all of them are inserted in one transaction, and GetWorkflow
# answers them all in one message (in the BASIC view, a few hundred bytes each).
MAX_WORKFLOW_STEPS = 10_000
# Elements a mapped step may fan out to (StepMap.max_items), and its default.
MAX_MAP_ITEMS = 10_000
DEFAULT_MAP_ITEMS = 1_000
# What a JobError's fields cost besides their text: tags, lengths, attempt, flag.
_ERROR_OVERHEAD = 32
_CUT = "[{} bytes cut]"


@dataclass(frozen=True, slots=True)
class PayloadLimits:
    """The message limit (M) and the payload limit (P) derived from it or given."""

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # None: the default, 7/16 of max_message_bytes.
    max_payload_bytes: int | None = None

    @classmethod
    def for_payload(cls, max_payload_bytes: int) -> PayloadLimits:
        """Limits from a payload limit alone (what a server tells its workers): with the
        message limit that has it as its default (at least 1 KiB), which is not above the
        server's unless that is under 1 KiB; a worker bounds its errors to its budget."""
        return cls(max(1024, max_payload_bytes * 16 // 7), max_payload_bytes)

    @property
    def payload(self) -> int:
        """The largest input, result or partial output, encoded."""
        if self.max_payload_bytes is not None:
            return self.max_payload_bytes
        return self.largest_payload

    @property
    def largest_payload(self) -> int:
        """The largest payload limit for which a job's input and result still fit together."""
        return (self.max_message_bytes - self.max_message_bytes // 8) // 2

    @property
    def error_budget(self) -> int:
        """Bytes a job's errors (its error and attempt_errors) may take in one response."""
        return self.max_message_bytes // 16

    def problems(self) -> list[str]:
        """What is wrong with this configuration (empty when nothing)."""
        if self.max_payload_bytes is None:
            return []
        if not 1 <= self.max_payload_bytes <= self.largest_payload:
            return [
                f"--max-payload-bytes must be 1..{self.largest_payload} with --max-message-bytes "
                f"{self.max_message_bytes} (a job's input and result, each up to this size, and its errors "
                f"and other fields (1/8) must fit in one message), got {self.max_payload_bytes}"
            ]
        return []

    def bounded_error(self, error: JobError) -> JobError:
        """An error as it is stored: its type, message and traceback cut so that one error
        always fits in a response (a traceback keeps its end, where the exception is)."""
        budget = self.error_budget
        return _shortened(
            error, type_bytes=min(1024, budget // 8), message_bytes=budget // 4, traceback_bytes=budget // 2
        )


def fit_errors(errors: Sequence[JobError], budget: int) -> list[JobError]:
    """The errors as they fit together in `budget` bytes: unchanged when they do; else the
    smaller ones stay whole and the larger ones share the rest equally, each cut to its
    share: traceback first (keeping its end), then message, then type."""
    sizes = [_error_bytes(e) for e in errors]
    if sum(sizes) <= budget:
        return list(errors)
    allowed = [0] * len(errors)
    remaining = budget
    for position, index in enumerate(sorted(range(len(errors)), key=sizes.__getitem__)):
        allowed[index] = min(sizes[index], remaining // (len(errors) - position))
        remaining -= allowed[index]
    fitted = []
    for error, size, allowance in zip(errors, sizes, allowed, strict=True):
        if allowance >= size:
            fitted.append(error)
            continue
        text = max(0, allowance - _ERROR_OVERHEAD)
        type_bytes = min(_utf8_len(error.type), text)
        message_bytes = min(_utf8_len(error.message), text - type_bytes)
        fitted.append(
            _shortened(
                error,
                type_bytes=type_bytes,
                message_bytes=message_bytes,
                traceback_bytes=text - type_bytes - message_bytes,
            )
        )
    return fitted


def _error_bytes(error: JobError) -> int:
    return _ERROR_OVERHEAD + _utf8_len(error.type) + _utf8_len(error.message) + _utf8_len(error.traceback)


def _shortened(error: JobError, *, type_bytes: int, message_bytes: int, traceback_bytes: int) -> JobError:
    cut_type = _keep_start(error.type, type_bytes)
    cut_message = _keep_start(error.message, message_bytes)
    cut_traceback = _keep_end(error.traceback, traceback_bytes)
    if (cut_type, cut_message, cut_traceback) == (error.type, error.message, error.traceback):
        return error
    return replace(error, type=cut_type, message=cut_message, traceback=cut_traceback)


def _keep_start(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes of text: its start and a mark saying how much was cut."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    mark = " " + _CUT.format(len(data))
    kept = max(0, limit - len(mark))
    return data[:kept].decode("utf-8", "ignore") + (mark if len(mark) <= limit else "")


def _keep_end(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes of text: a mark saying how much was cut, and its end."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    mark = _CUT.format(len(data)) + "\n"
    kept = max(0, limit - len(mark))
    return (mark if len(mark) <= limit else "") + data[len(data) - kept :].decode("utf-8", "ignore")


def progress_message(text: str) -> str:
    """A progress message as it is stored: at most MAX_PROGRESS_MESSAGE_BYTES."""
    if len(text) <= MAX_PROGRESS_MESSAGE_BYTES // 4:  # at most 4 bytes a character: short enough
        return text
    return _keep_start(text, MAX_PROGRESS_MESSAGE_BYTES)


# -- encoded sizes -------------------------------------------------------------------


def payload_size(payload: Payload) -> int:
    """Bytes of the jobsvc.v1.Payload message this payload is sent as."""
    if payload.is_proto:
        type_url = _optional_field_size(_utf8_len(payload.type_url or ""))
        return field_size(type_url + _optional_field_size(len(payload.data or b"")))
    return field_size(value_size(payload.json))


def value_size(value: JsonValue) -> int:
    """Bytes of the google.protobuf.Value message a JSON value is sent as (jobsvc.codec's
    encoding: a number is always a double; a kind is always written, even when empty)."""
    if value is None or isinstance(value, bool):
        return 2  # tag + one-byte varint (NULL_VALUE, or the bool)
    if isinstance(value, int | float):
        return 9  # tag + fixed64
    if isinstance(value, str):
        return field_size(_utf8_len(value))
    if isinstance(value, dict):
        entries = 0
        for key, item in value.items():
            entries += field_size(field_size(_utf8_len(key)) + field_size(value_size(item)))
        return field_size(entries)
    return field_size(sum(field_size(value_size(item)) for item in value))


def field_size(length: int) -> int:
    """Bytes of a length-delimited field (one-byte tag) whose content is `length` bytes."""
    return 1 + _varint_size(length) + length


def _optional_field_size(length: int) -> int:
    """A string or bytes field, which proto3 omits when empty."""
    return field_size(length) if length else 0


def _varint_size(value: int) -> int:
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def _utf8_len(text: str) -> int:
    # ASCII (most text) needs no encoding to be measured.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
