"""Queue statistics between the domain and StatsService messages."""

from __future__ import annotations

from datetime import timedelta

from google.protobuf import duration_pb2

from jobsvc.codec.encode import fill_timestamp, wait_reason_to_proto
from jobsvc.domain.jobs import FinishedBucket, VersionStats
from jobsvc.v1 import stats_service_pb2


def window_from_proto(request: stats_service_pb2.GetQueueStatsRequest) -> float | None:
    """The window a GetQueueStats asks for, in seconds; None when not set."""
    return request.window.ToTimedelta().total_seconds() if request.HasField("window") else None


def version_stats_to_proto(stats: VersionStats) -> stats_service_pb2.VersionStats:
    """One handler version's figures as a message."""
    message = stats_service_pb2.VersionStats(
        handler=stats.handler,
        version=stats.version,
        queued=stats.queued,
        scheduled=stats.scheduled,
        running=stats.running,
        succeeded=stats.succeeded,
        failed=stats.failed,
        cancelled=stats.cancelled,
    )
    message.oldest_queued_age.FromTimedelta(timedelta(seconds=round(stats.oldest_queued_age, 3)))
    message.waiting.extend(
        stats_service_pb2.WaitCount(reason=wait_reason_to_proto(reason), count=count)
        for reason, count in sorted(stats.waiting.items(), key=lambda item: wait_reason_to_proto(item[0]))
    )
    return message


def duration_to_proto(seconds: float) -> duration_pb2.Duration:
    """Seconds as a google.protobuf.Duration."""
    message = duration_pb2.Duration()
    message.FromTimedelta(timedelta(seconds=seconds))
    return message


def finished_bucket_to_proto(bucket: FinishedBucket) -> stats_service_pb2.FinishedBucket:
    """One bucket of the timeline as a message."""
    message = stats_service_pb2.FinishedBucket(
        succeeded=bucket.succeeded, failed=bucket.failed, cancelled=bucket.cancelled
    )
    fill_timestamp(message.start, bucket.start)
    return message
