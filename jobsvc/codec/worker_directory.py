"""The worker session directory (WorkerDirectoryService) as messages."""

from __future__ import annotations

from jobsvc.codec.encode import fill_timestamp
from jobsvc.domain.workers import WorkerSession
from jobsvc.v1 import worker_directory_pb2


def worker_session_to_proto(session: WorkerSession) -> worker_directory_pb2.WorkerSession:
    """One connected session; its `name@version` keys as name and version."""
    message = worker_directory_pb2.WorkerSession(
        session_id=session.session_id,
        worker_id=session.worker_id,
        handlers=[
            worker_directory_pb2.ServedVersion(name=name, version=version)
            for name, _, version in (key.rpartition("@") for key in session.keys)
        ],
        capacity=session.capacity,
        in_flight=session.in_flight,
        replica=session.replica,
    )
    fill_timestamp(message.connect_time, session.connected_at)
    fill_timestamp(message.refresh_time, session.refreshed_at)
    return message
