"""StatsService: read-only queue statistics (the dashboard's overview)."""

from __future__ import annotations

from datetime import UTC, datetime

from jobsvc import codec
from jobsvc.api.services import Context
from jobsvc.api.status import unary
from jobsvc.app.stats import Stats
from jobsvc.v1 import stats_service_pb2, stats_service_pb2_grpc


class StatsService(stats_service_pb2_grpc.StatsServiceServicer):
    """Queue statistics per handler version."""

    def __init__(self, stats: Stats) -> None:
        self._stats = stats

    @unary
    async def GetQueueStats(
        self,
        request: stats_service_pb2.GetQueueStatsRequest,
        context: Context,
    ) -> stats_service_pb2.GetQueueStatsResponse:
        overview = await self._stats.overview(codec.window_from_proto(request))
        response = stats_service_pb2.GetQueueStatsResponse(
            versions=[codec.version_stats_to_proto(s) for s in overview.versions],
            window=codec.duration_to_proto(overview.window_seconds),
            timeline=[codec.finished_bucket_to_proto(b) for b in overview.timeline],
        )
        response.time.FromDatetime(datetime.now(UTC))
        return response
