"""The codec's own Timestamp writer against protobuf's: the same message for every moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from google.protobuf import timestamp_pb2
from hypothesis import given
from hypothesis import strategies as st

from jobsvc.codec.encode import fill_timestamp
from jobsvc.v1 import job_pb2

# Moments whose UTC time stays within years 1..9999 (the range a Timestamp holds).
_ZONES = st.one_of(
    st.none(), st.just(UTC), st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
)
_MOMENTS = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    _ZONES,
)


@given(_MOMENTS)
def test_fill_timestamp_writes_what_from_datetime_writes(moment: datetime) -> None:
    expected, written = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
    expected.FromDatetime(moment)
    fill_timestamp(written, moment)
    assert written == expected


def test_the_epoch_is_still_a_set_field_and_moments_before_it_count_back() -> None:
    job = job_pb2.Job()
    fill_timestamp(job.create_time, datetime(1970, 1, 1, tzinfo=UTC))  # every number zero
    assert job.HasField("create_time")
    fill_timestamp(job.finish_time, datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
    assert (job.finish_time.seconds, job.finish_time.nanos) == (-1, 999_999_000)
