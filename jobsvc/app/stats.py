"""Read-only statistics of the queue (StatsService): what a dashboard's overview shows."""

from __future__ import annotations

from jobsvc.domain.errors import FieldViolation, InvalidArgument
from jobsvc.domain.jobs import VersionStats
from jobsvc.store.port import JobStore

DEFAULT_WINDOW_SECONDS = 3600.0
MAX_WINDOW_SECONDS = 24 * 3600.0


class Stats:
    """Queue statistics over the storage port."""

    def __init__(self, store: JobStore) -> None:
        self._store = store

    async def by_version(self, window_seconds: float | None, field: str = "window") -> list[VersionStats]:
        """Per handler version: queued, scheduled, running now; finished within the window (1 s to 24 h)."""
        window = DEFAULT_WINDOW_SECONDS if window_seconds is None else window_seconds
        if not 1.0 <= window <= MAX_WINDOW_SECONDS:
            raise InvalidArgument(
                f"{field} must be 1 second to 24 hours", [FieldViolation(field, "1 second to 24 hours")]
            )
        return await self._store.job_stats_by_version(window)
