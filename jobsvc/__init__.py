"""jobsvc: a gRPC job runner backed by PostgreSQL.

Handler authors need only `handler` and `JobContext` from here; the client is in
`jobsvc.client`.
"""

from jobsvc.domain.handlers import JobContext, handler

__all__ = ["JobContext", "handler"]
__version__ = "0.1.0"
