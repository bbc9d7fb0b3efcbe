"""StatsService: read-only queue statistics (the dashboard's overview)."""

from __future__ import annotations

from datetime import UTC, datetime

from jobsvc import codec
from jobsvc.api.services import Context
from jobsvc.api.status import unary
from jobsvc.app.stats import DEFAULT_WINDOW_SECONDS, Stats
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
        window = codec.window_from_proto(request)
        found = await self._stats.by_version(window)
        response = stats_service_pb2.GetQueueStatsResponse(
            versions=[codec.version_stats_to_proto(s) for s in found],
            window=codec.duration_to_proto(DEFAULT_WINDOW_SECONDS if window is None else window),
        )
        response.time.FromDatetime(datetime.now(UTC))
        return response
