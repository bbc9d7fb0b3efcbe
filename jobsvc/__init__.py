"""jobsvc: a gRPC job runner backed by PostgreSQL.

Handler authors need only `handler` and `JobContext` from here; the Python client and
remote worker are in `jobsvc.sdk`.
"""

from jobsvc.domain.children import ChildJob, ChildJobFailed, SpawnRefused
from jobsvc.domain.errors import NonRetryableError, RetryLater
from jobsvc.domain.flow import ConcurrencyLimit, Fairness, FlowControl, RateLimit
from jobsvc.domain.handlers import JobContext, handler
from jobsvc.domain.jobs import RetryPolicy
from jobsvc.domain.schedules import schedule

__all__ = [
    "ChildJob",
    "ChildJobFailed",
    "ConcurrencyLimit",
    "Fairness",
    "FlowControl",
    "JobContext",
    "NonRetryableError",
    "RateLimit",
    "RetryLater",
    "RetryPolicy",
    "SpawnRefused",
    "handler",
    "schedule",
]
__version__ = "0.1.0"
