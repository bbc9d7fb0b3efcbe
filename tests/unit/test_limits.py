"""The size arithmetic of jobsvc.domain.limits, checked against the protobuf runtime."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from jobsvc import codec
from jobsvc.domain.jobs import Job, JobError, JobState, JobView, Payload
from jobsvc.domain.limits import PayloadLimits, fit_errors, payload_size, progress_message

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=40,
)


@settings(derandomize=True, max_examples=300, database=None)
@given(JSON)
def test_the_size_of_a_json_payload_is_what_protobuf_encodes(value: object) -> None:
    payload = Payload(json=value)  # type: ignore[arg-type]
    assert payload_size(payload) == codec.payload_to_proto(payload).ByteSize()


@settings(derandomize=True, max_examples=100, database=None)
@given(st.text(max_size=300), st.binary(max_size=70_000))
def test_the_size_of_a_protobuf_payload_is_what_protobuf_encodes(type_url: str, data: bytes) -> None:
    payload = Payload(type_url=type_url, data=data)
    assert payload_size(payload) == codec.payload_to_proto(payload).ByteSize()


def test_the_default_payload_limit_leaves_room_for_input_result_and_errors() -> None:
    limits = PayloadLimits()
    assert limits.payload == 7 * 4 * 1024 * 1024 // 16
    assert 2 * limits.payload + 2 * limits.error_budget <= limits.max_message_bytes
    assert PayloadLimits(4 * 1024 * 1024, limits.payload + 1).problems()
    assert not PayloadLimits(4 * 1024 * 1024, 1024).problems()
    # What a worker derives from the payload limit alone is never above the real message limit.
    assert PayloadLimits.for_payload(limits.payload).max_message_bytes <= limits.max_message_bytes


def _failed_job(errors: list[JobError]) -> Job:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return Job(
        id="00000000-0000-0000-0000-000000000001",
        handler="h",
        version_selector="",
        version="1.0.0",
        state=JobState.FAILED,
        input=Payload(json="in"),
        result=None,
        error=errors[-1],
        attempt=len(errors),
        priority=0,
        idempotency_key=None,
        labels={},
        created_at=now,
        run_at=now,
        started_at=now,
        finished_at=now,
        cancel_requested=False,
        last_seq=1,
        progress_percent=None,
        progress_message=None,
        max_attempts=1000,
        attempt_errors=tuple(errors),
    )


def test_a_thousand_large_errors_fit_their_budget_in_either_view() -> None:
    limits = PayloadLimits()
    bounded = limits.bounded_error(JobError("E", "m" * 500_000, "t" * 500_000 + "\nValueError: the end", attempt=1))
    assert bounded.traceback.endswith("ValueError: the end") and "bytes cut]" in bounded.traceback
    errors = [bounded] * 1000
    for view in JobView:
        message = codec.job_to_proto(_failed_job(errors), view, limits.error_budget)
        sizes = sum(e.ByteSize() + 4 for e in message.attempt_errors) + message.error.ByteSize() + 4
        assert sizes <= limits.error_budget, view
        assert len(message.attempt_errors) == 1000 and message.error.type == "E"
        assert message.error.message.startswith("mmm") and message.error.message.endswith("bytes cut]")


def test_errors_that_fit_are_unchanged() -> None:
    errors = [JobError("ValueError", "bad", "Traceback ...", attempt=1)]
    assert fit_errors(errors, 10_000) == errors


def test_a_progress_message_is_cut_to_4_kib() -> None:
    assert progress_message("short") == "short"
    cut = progress_message("é" * 10_000)
    assert len(cut.encode()) <= 4096 and cut.endswith("bytes cut]")
