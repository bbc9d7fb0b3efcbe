"""The Python SDK: an asyncio client (`Client`) and a remote worker (`RemoteWorker`,
what `jobsvc worker` runs), apart from the server.

    from jobsvc.sdk import Client, ClientSecurity, job_spec

    async with Client("jobsvc.internal:50051", security=ClientSecurity.from_env()) as client:
        job = await client.call("resize_image", {"url": "..."}, version="^2", timeout=30)

It talks to a server over gRPC only: it never imports the server's api, store or
server modules, nor asyncpg (an import-linter contract in pyproject.toml), and uses
the shared converter (jobsvc.codec) and handler invocation (jobsvc.handlers).
"""

from jobsvc.sdk.client import (
    JOB_ID_METADATA,
    Client,
    ClientSecurity,
    ErrorDetails,
    JobFailed,
    error_details,
    job_spec,
    payload_value,
    to_payload,
    workflow_step,
)
from jobsvc.sdk.router import ShardRouter
from jobsvc.sdk.worker import RemoteWorker, WorkerConfig, run_worker

__all__ = [
    "JOB_ID_METADATA",
    "Client",
    "ClientSecurity",
    "ErrorDetails",
    "JobFailed",
    "RemoteWorker",
    "ShardRouter",
    "WorkerConfig",
    "error_details",
    "job_spec",
    "payload_value",
    "run_worker",
    "to_payload",
    "workflow_step",
]
