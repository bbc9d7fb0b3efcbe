"""WorkerDirectoryService: the worker sessions connected to any replica (the dashboard's Workers page)."""

from __future__ import annotations

from jobsvc import codec
from jobsvc.api.services import Context
from jobsvc.api.status import unary
from jobsvc.app.workers import SessionDirectory
from jobsvc.v1 import worker_directory_pb2, worker_directory_pb2_grpc


class WorkerDirectoryService(worker_directory_pb2_grpc.WorkerDirectoryServiceServicer):
    """Read-only listing of the session directory."""

    def __init__(self, directory: SessionDirectory) -> None:
        self._directory = directory

    @unary
    async def ListWorkers(
        self,
        request: worker_directory_pb2.ListWorkersRequest,
        context: Context,
    ) -> worker_directory_pb2.ListWorkersResponse:
        sessions = await self._directory.list()
        return worker_directory_pb2.ListWorkersResponse(workers=[codec.worker_session_to_proto(s) for s in sessions])
