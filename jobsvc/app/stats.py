"""Read-only statistics of the queue (StatsService): what a dashboard's overview shows."""

from __future__ import annotations

from dataclasses import dataclass

from jobsvc.domain.errors import FieldViolation, InvalidArgument
from jobsvc.domain.jobs import FinishedBucket, VersionStats
from jobsvc.store.port import JobStore

DEFAULT_WINDOW_SECONDS = 3600.0
MAX_WINDOW_SECONDS = 24 * 3600.0
# The window's timeline has this many buckets (a minute each for an hour) when the window
# is a whole number of hours; a bucket is always a whole number of minutes, the grain of
# the finished-jobs roll-up (at least one: a window under an hour has a bucket a minute).
TIMELINE_BUCKETS = 60


def bucket_seconds(window_seconds: float) -> float:
    """The width of the timeline's buckets for a window: window / 60 rounded to whole minutes."""
    return 60.0 * max(1, round(window_seconds / TIMELINE_BUCKETS / 60))


class Stats:
    """Queue statistics over the storage port."""

    def __init__(self, store: JobStore) -> None:
        self._store = store

    async def overview(self, window_seconds: float | None, field: str = "window") -> QueueOverview:
        """Per handler version: queued, scheduled, running now; finished within the window
        (1 s to 24 h, default an hour; counted in whole minutes, from the start of the
        minute it reaches into), and the window's timeline of finished jobs."""
        window = DEFAULT_WINDOW_SECONDS if window_seconds is None else window_seconds
        if not 1.0 <= window <= MAX_WINDOW_SECONDS:
            raise InvalidArgument(
                f"{field} must be 1 second to 24 hours", [FieldViolation(field, "1 second to 24 hours")]
            )
        versions = await self._store.job_stats_by_version(window)
        timeline = await self._store.job_finished_timeline(window, bucket_seconds(window))
        return QueueOverview(window, versions, timeline)


@dataclass(frozen=True, slots=True)
class QueueOverview:
    """What GetQueueStats answers: the window, each version's figures, the timeline."""

    window_seconds: float
    versions: list[VersionStats]
    timeline: list[FinishedBucket]
