"""Every long-lived background task of a process, owned in one place.

A background task is a named loop of *rounds* (one claim, one heartbeat, one pass of
the rescuer, one LISTEN session). A round that raises, whatever it raises (a statement
cancelled by an operator or by a timeout, a serialization failure, a read-only or lost
database, a bug), is logged, counted and run again after a jittered exponential backoff:
the task itself never ends until it is stopped. A job runner whose claim loop died
would accept jobs and never run them; this module is why that cannot happen silently.

Health: a critical task whose rounds have kept failing for longer than
`unhealthy_after` seconds is a problem the server reports as NOT_SERVING (with the
task's last error in the log) until one of its rounds succeeds again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from jobsvc.domain.errors import JobsvcError

log = logging.getLogger("jobsvc.supervisor")

Round = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Backoff:
    """Delays between failed rounds: doubling from `first` up to `most`, each drawn
    between half and all of that (replicas failing together do not retry in step)."""

    first: float = 0.1
    most: float = 5.0

    def delay(self, failures: int) -> float:
        """The pause after the failures-th failure in a row (1-based)."""
        ceiling = min(self.most, self.first * 2 ** min(failures - 1, 30))
        return float(ceiling * random.uniform(0.5, 1.0))


@dataclass
class TaskState:
    """What the supervisor knows of one task."""

    name: str
    critical: bool
    # Failures since the last round that succeeded; 0 when healthy.
    failures: int = 0
    failing_since: float | None = None
    last_error: str = ""
    # Every failure since start (for tests and metrics).
    total_failures: int = 0
    rounds: int = 0
    stopping: bool = False
    # True while a round runs (not while the task waits out a backoff).
    in_round: bool = False
    # Set to cut a backoff short (the database is back: retry now, not in up to 5 s).
    nudge: asyncio.Event = field(default_factory=asyncio.Event)

    def succeeded(self) -> None:
        """A round ended normally."""
        if self.failures:
            log.info("%s recovered after %d failed round(s)", self.name, self.failures)
        self.failures = 0
        self.failing_since = None
        self.rounds += 1

    def failed(self, exc: BaseException) -> None:
        """A round raised exc."""
        self.failures += 1
        self.total_failures += 1
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        self.last_error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, JobsvcError):
            # Expected trouble (the database is unreachable, read-only, cancelled a statement):
            # one line, no traceback.
            log.warning("%s failed (%d in a row): %s", self.name, self.failures, self.last_error)
        else:
            log.error("%s failed (%d in a row)", self.name, self.failures, exc_info=exc)


async def run_rounds(state: TaskState, round_: Round, backoff: Backoff) -> None:
    """Run round_ until state.stopping, surviving every exception it raises."""
    while not state.stopping:
        state.in_round = True
        try:
            await round_()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            state.in_round = False
            state.failed(exc)
            if not state.stopping:
                state.nudge.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(state.nudge.wait(), backoff.delay(state.failures))
            continue
        state.in_round = False
        state.succeeded()


class Supervisor:
    """Starts, restarts and stops the process's background tasks, and tells health
    which of them cannot recover."""

    def __init__(self, *, unhealthy_after: float = 10.0, backoff: Backoff | None = None) -> None:
        self.unhealthy_after = unhealthy_after
        self.backoff = backoff or Backoff()
        self._tasks: dict[str, tuple[TaskState, asyncio.Task[None]]] = {}
        # Others woken by retry_now (e.g. outcomes kept for the database to answer).
        self._also_woken: list[Callable[[], None]] = []

    def start(self, name: str, round_: Round, *, critical: bool = True) -> TaskState:
        """Run round_ again and again as task `name` until stopped. Non-critical tasks
        (helpers whose failure delays nothing for long) never make the process unhealthy."""
        if name in self._tasks:
            raise ValueError(f"a task named {name!r} is already running")
        state = TaskState(name, critical)
        task = asyncio.create_task(run_rounds(state, round_, self.backoff), name=f"jobsvc-{name}")
        self._tasks[name] = (state, task)
        return state

    def state(self, name: str) -> TaskState | None:
        """The state of task `name`, None when there is no such task."""
        entry = self._tasks.get(name)
        return entry[0] if entry else None

    def retry_now(self) -> None:
        """Cut every backoff short: what the tasks were failing on is back (health found
        the database reachable again)."""
        for state, _ in self._tasks.values():
            state.nudge.set()
        for wake in self._also_woken:
            wake()

    def wake_on_retry(self, wake: Callable[[], None]) -> None:
        """Call wake too whenever retry_now cuts the backoffs short."""
        self._also_woken.append(wake)

    def problems(self) -> list[str]:
        """One line per critical task that has kept failing past unhealthy_after."""
        now = time.monotonic()
        return [
            f"{state.name} failing for {now - state.failing_since:.0f}s: {state.last_error}"
            for state, _ in self._tasks.values()
            if state.critical and state.failing_since is not None and now - state.failing_since >= self.unhealthy_after
        ]

    async def stop(self, name: str, *, drain: float = 0.0) -> None:
        """Stop task `name`. With drain > 0 the round in flight may finish first (a claim
        that committed launches what it got) for up to that long; then it is cancelled."""
        entry = self._tasks.pop(name, None)
        if entry is None:
            return
        state, task = entry
        state.stopping = True
        if drain > 0 and state.in_round:
            await asyncio.wait([task], timeout=drain)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def stop_all(self) -> None:
        """Stop every task still running (no drain)."""
        for name in list(self._tasks):
            await self.stop(name)
