"""Domain errors: each says what went wrong in terms the API maps to one status code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field of a request, named by its path in the request (`job.input.width`)."""

    field: str
    description: str


class JobsvcError(Exception):
    """Base of the errors a caller can act on. `reason` is a stable UPPER_SNAKE code."""

    reason: str = "JOBSVC_ERROR"
    # The same request may succeed later (the database is back, the conflict is gone).
    transient: bool = False

    def __init__(self, message: str, *, metadata: dict[str, str] | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = dict(metadata or {})
        if reason:
            self.reason = reason


class InvalidArgument(JobsvcError):
    """The request is malformed or its input does not match the handler's schema."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, message: str, violations: list[FieldViolation], *, reason: str | None = None) -> None:
        super().__init__(message)
        self.violations = violations
        if reason:
            self.reason = reason


class NotFound(JobsvcError):
    """An unknown job, handler or version range."""

    reason = "NOT_FOUND"

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        resource_type: str,
        resource_name: str,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, metadata=metadata)
        self.reason = reason
        self.resource_type = resource_type
        self.resource_name = resource_name


class AlreadyExists(JobsvcError):
    """The idempotency key is taken by a job with different content, or a name is taken."""

    reason = "IDEMPOTENCY_KEY_REUSED"


class FailedPrecondition(JobsvcError):
    """The request is well formed but the job's state does not allow it."""

    def __init__(self, message: str, *, reason: str, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message, metadata=metadata)
        self.reason = reason


class OutOfRange(JobsvcError):
    """The request reads past the end of what exists (an event sequence the job has not reached)."""

    def __init__(self, message: str, *, reason: str, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message, metadata=metadata)
        self.reason = reason


class ResourceExhausted(JobsvcError):
    """A size or count limit was exceeded."""

    reason = "LIMIT_EXCEEDED"


class Unavailable(JobsvcError):
    """The service cannot serve now (database unreachable, draining); retrying later may work."""

    reason = "UNAVAILABLE"
    transient = True


class Aborted(JobsvcError):
    """The database gave up on the request to keep others consistent (a serialization
    failure or a deadlock): nothing was written, and retrying the request is the answer."""

    reason = "CONFLICT_RETRY"
    transient = True


class Unauthenticated(JobsvcError):
    """The caller sent no token, or one the server does not know."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class PermissionDenied(JobsvcError):
    """The caller's token is valid but lacks the scope the method needs."""

    reason = "SCOPE_MISSING"


class NonRetryableError(Exception):
    """Raise (or subclass) in a handler to fail the job at once, whatever its retry policy."""


class RetryLater(Exception):
    """Raise (or subclass) in a handler to fail the attempt and retry the job after `delay`
    seconds instead of the policy's backoff (a server's Retry-After, say). The attempt still
    counts against the policy's maximum_attempts; `delay` None means the policy's backoff."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay
