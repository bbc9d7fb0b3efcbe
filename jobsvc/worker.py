"""Compatibility module: the remote Python worker is now jobsvc.sdk (jobsvc.sdk.worker).

Kept, re-exporting only, so that code written as the README used to show it
(`jobsvc.worker.RemoteWorker`) keeps working; new code imports from jobsvc.sdk.
Nothing in jobsvc imports this module (the layers contract in pyproject.toml puts it
above everything else).
"""

from jobsvc.sdk.worker import RemoteWorker, WorkerConfig, run_worker

__all__ = ["RemoteWorker", "WorkerConfig", "run_worker"]
