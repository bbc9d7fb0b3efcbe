"""The records the ledger keeps and the database view the checker reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["ok", "failed", "unknown"]
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Op:
    """One client operation as the client saw it."""

    kind: str
    key: str
    target: str
    start: float
    end: float = 0.0
    outcome: Outcome = "unknown"
    code: str = ""
    job_id: str = ""
    # The terminal state a Call returned, lower case ("succeeded"); L6: it never changes.
    state: str = ""
    # The ErrorInfo reason of a failed operation ("DATABASE_READ_ONLY").
    reason: str = ""

    @property
    def seconds(self) -> float:
        """How long the operation took."""
        return self.end - self.start


@dataclass(frozen=True)
class Execution:
    """One execution of a handler, as the handler recorded it (epoch seconds)."""

    job_id: str
    handler: str
    attempt: int
    worker: str
    pid: int
    start: float
    end: float | None
    # ok | error | timeout | cancelled, or None: the process died (or the ledger was unreachable).
    outcome: str | None

    @property
    def failed_by_itself(self) -> bool:
        """The handler failed the attempt on purpose: what follows is a retry, not a re-execution."""
        return self.outcome in ("error", "timeout")


@dataclass(frozen=True)
class Fault:
    """A fault injected between start and end (epoch seconds), on one worker or on all (None)."""

    kind: str
    start: float
    end: float
    target: str | None = None
    # An execution that ended this shortly before the fault may still have lost its settlement.
    slack: float = 1.0

    def covers(self, execution: Execution) -> bool:
        """Whether the execution overlapped this fault."""
        if self.target is not None and execution.worker != self.target:
            return False
        ended = execution.end if execution.end is not None else float("inf")
        return execution.start <= self.end and ended >= self.start - self.slack


@dataclass(frozen=True)
class JobRow:
    """The columns of jobsvc_jobs the checker needs."""

    id: str
    state: str
    attempt: int
    max_attempts: int
    idempotency_key: str | None
    last_seq: int
    finished_at: float | None
    attempt_errors: int


@dataclass(frozen=True)
class DbView:
    """Jobs, the kinds of their events in order, and their executions (by start)."""

    jobs: dict[str, JobRow]
    events: dict[str, list[str]]
    executions: dict[str, list[Execution]]


@dataclass(frozen=True)
class Counts:
    """What a scenario's check found."""

    accepted: int
    terminal: int
    lost: int
    unexpected: int
    executions: int
    re_executions: int
    retries: int
    refused_stale_acks: int
    unknown_ops: int
    faults: int

    def line(self, name: str) -> str:
        """One greppable line for the CI log."""
        fields = " ".join(f"{k.replace('_', '-')}={v}" for k, v in self.__dict__.items())
        return f"[ledger] {name}: {fields}"
