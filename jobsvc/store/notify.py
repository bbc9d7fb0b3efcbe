"""Every notification between processes: the one module that sends NOTIFY from Python,
and the one LISTEN connection per process that receives them (the storage port's
Notifications, implemented by PgNotifications).

Channels, and everyone who NOTIFYs on them:

- jobsvc_events (job ids whose event logs grew): EventNotifier, after the commits
  (queries.sql `job_events_notify`);
- jobsvc_jobs (jobs are due, at an epoch second or now): JobsDue, debounced
  (queries.sql `job_executors_wake`), the trigger `jobsvc_concurrency_count` of
  migration 0003_flow_control.sql when a slot of a full concurrency key is freed, and
  the SQL function `jobsvc_submit` (0009_operations.sql), delivered at the commit of the
  application's transaction that called it;
- jobsvc_cancel (a running job was asked to stop): inside the cancelling statements
  themselves, queries.sql `job_cancel_running` and the deadline query
  `job_expire_deadlines` (pg_notify in their RETURNING lists), so that the request and
  its notice commit together;
- jobsvc_pauses (a pause was set or cleared): inside queries.sql `pause_set` and
  `pause_clear`, delivered at their commit.

Waiters (Call, Stream) subscribe to a job id and are woken when a NOTIFY names it;
they then re-read the job's events from the table, so a notification carries no
data and a lost one costs at most a poll interval. When the connection drops (or
fails in any way), every waiter is woken (it may have missed notifications) and the
process's Supervisor connects again, with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

import asyncpg

from jobsvc.domain.errors import Unavailable
from jobsvc.store.connection import CONNECT_TIMEOUT, CONNECTION_ERRORS, database_error, session_attrs
from jobsvc.store.sql import bind
from jobsvc.supervisor import Supervisor, TaskState

log = logging.getLogger("jobsvc.notify")

EVENTS_CHANNEL = "jobsvc_events"
JOBS_CHANNEL = "jobsvc_jobs"
CANCEL_CHANNEL = "jobsvc_cancel"
PAUSES_CHANNEL = "jobsvc_pauses"


# How many moments to come the listener keeps a wake-up for (jobs_due), and how late
# after each it wakes the claim loops.
DUE_MOMENTS = 1024
DUE_MARGIN = 0.005


class Listener:
    """Owns the LISTEN connection and routes notifications to local subscribers."""

    TASK = "listen"
    # How long start() waits for the first LISTEN before the server start fails.
    START_TIMEOUT = 30.0

    def __init__(self, dsn: str, supervisor: Supervisor) -> None:
        self._dsn = dsn
        self._supervisor = supervisor
        self._state: TaskState | None = None
        self._conn: asyncpg.Connection | None = None
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._cancel_callbacks: list[Callable[[str], None]] = []
        self._pause_callbacks: list[Callable[[], None]] = []
        self._due_signals: set[asyncio.Event] = set()
        self._due_timer: asyncio.TimerHandle | None = None
        # Loop times at which jobs become due, earliest first (a heap); see jobs_due.
        self._due_moments: list[float] = []
        # When a job last changed, here or on another replica (loop clock; -inf: never).
        self._last_change = -math.inf
        self.connected = asyncio.Event()

    @contextlib.contextmanager
    def subscribe(self, job_id: str, event: asyncio.Event | None = None) -> Iterator[asyncio.Event]:
        """An event set whenever job_id may have new events; clear it before re-reading.
        Pass `event` to have one event for many jobs (a workflow's stream)."""
        event = event or asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[job_id]

    @contextlib.contextmanager
    def due_signal(self) -> Iterator[asyncio.Event]:
        """An event of one claim loop's own, set whenever jobs may have become due
        (here or on another replica); the loop clears it before each claim."""
        event = asyncio.Event()
        self._due_signals.add(event)
        try:
            yield event
        finally:
            self._due_signals.discard(event)

    def jobs_due(self, due: datetime | None = None) -> None:
        """Jobs are due at `due` (now when None or past): wake every claim loop of this
        process then (PgNotifications.jobs_due also tells the other replicas).

        The moments to come are kept in order (up to DUE_MOMENTS; past that the latest
        are left to the loops' poll) with one timer for the earliest, set again for the
        next when it fires: a retry due after another one is not left to the poll. Each
        wake-up comes DUE_MARGIN late, so that a timer firing a hair early (the loop's
        clock resolution) never claims before the job is due by the database's clock and
        leaves it to the poll.
        """
        loop = asyncio.get_running_loop()
        delay = 0.0 if due is None else (due - datetime.now(UTC)).total_seconds()
        if delay <= 0:
            self._jobs_due_now()
            return
        when = loop.time() + delay + DUE_MARGIN
        if len(self._due_moments) >= DUE_MOMENTS:
            latest = max(self._due_moments)
            if when >= latest:
                return  # the poll finds it
            self._due_moments.remove(latest)
            heapq.heapify(self._due_moments)
        heapq.heappush(self._due_moments, when)
        self._arm_due_timer()

    def _arm_due_timer(self) -> None:
        """One timer, at the earliest moment still to come."""
        if not self._due_moments:
            return
        earliest = self._due_moments[0]
        timer = self._due_timer
        if timer is not None and not timer.cancelled() and timer.when() <= earliest:
            return
        if timer is not None:
            timer.cancel()
        self._due_timer = asyncio.get_running_loop().call_at(earliest, self._due_timer_fired)

    def _due_timer_fired(self) -> None:
        self._due_timer = None
        now = asyncio.get_running_loop().time()
        while self._due_moments and self._due_moments[0] <= now:
            heapq.heappop(self._due_moments)
        self._jobs_due_now()
        self._arm_due_timer()

    def _jobs_due_now(self) -> None:
        # Sets every claim loop's due_signal.
        for event in self._due_signals:
            event.set()

    def on_cancel(self, callback: Callable[[str], None]) -> None:
        """Call callback(job_id) when any replica asks to cancel a running job."""
        self._cancel_callbacks.append(callback)

    def on_pauses_changed(self, callback: Callable[[], None]) -> None:
        """Call callback() when any replica pauses or resumes, and whenever the LISTEN
        connection is (re)established or lost (a change may have been missed)."""
        self._pause_callbacks.append(callback)

    def notify_local(self, job_id: str) -> None:
        """Wake local waiters of job_id without a database round trip."""
        self._last_change = time.monotonic()
        for event in self._waiters.get(job_id, ()):
            event.set()

    def quiet_for(self) -> float:
        """Seconds since a job last changed, on any replica (inf: none since the start)."""
        return time.monotonic() - self._last_change

    @property
    def waiter_count(self) -> int:
        """Number of jobs with at least one local waiter."""
        return len(self._waiters)

    async def start(self) -> None:
        """Start listening; returns once the first LISTEN is in place."""
        self._state = self._supervisor.start(self.TASK, self._session)
        try:
            await asyncio.wait_for(self.connected.wait(), self.START_TIMEOUT)
        except TimeoutError:
            await self.close()
            why = self._state.last_error
            raise Unavailable(f"no LISTEN connection within {self.START_TIMEOUT:g}s: {why}") from None

    def reconnect(self) -> None:
        """Drop the LISTEN connection and connect again (after an outage the connection may
        look open while notifications were lost: a blackhole does not close sockets)."""
        if self._conn is not None:
            self._conn.terminate()

    async def close(self) -> None:
        """Stop listening."""
        await self._supervisor.stop(self.TASK)

    def _dispatch(self, _conn: object, _pid: int, channel: str, payload: object) -> None:
        payload = str(payload)
        if channel == EVENTS_CHANNEL:
            for job_id in payload.split(","):
                self.notify_local(job_id)
        elif channel == JOBS_CHANNEL:
            # The payload is the epoch second the earliest submitted job is due, or empty.
            self.jobs_due(datetime.fromtimestamp(float(payload), UTC) if payload else None)
        elif channel == CANCEL_CHANNEL:
            for callback in self._cancel_callbacks:
                callback(payload)
        elif channel == PAUSES_CHANNEL:
            self._pauses_changed()

    def _pauses_changed(self) -> None:
        for pause_callback in self._pause_callbacks:
            pause_callback()

    def _wake_everyone(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()
        self._jobs_due_now()
        self._pauses_changed()

    async def _session(self) -> None:
        """One LISTEN connection, from connect until it is lost (then raise: the
        supervisor backs off and runs the next session)."""
        conn: asyncpg.Connection | None = None
        try:
            conn = self._conn = await asyncpg.connect(
                self._dsn,
                timeout=CONNECT_TIMEOUT,
                target_session_attrs=session_attrs(self._dsn),
                server_settings={"application_name": "jobsvc-listen"},
            )
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn: lost.set())
            for channel in (EVENTS_CHANNEL, JOBS_CHANNEL, CANCEL_CHANNEL, PAUSES_CHANNEL):
                await conn.add_listener(channel, self._dispatch)
            self.connected.set()
            if self._state is not None:
                self._state.succeeded()  # healthy for as long as this session lasts
            # Anything that happened while we were not listening is re-read now.
            self._wake_everyone()
            await lost.wait()
            raise Unavailable("LISTEN connection lost")
        except Exception as exc:
            translated = database_error(exc)
            if translated is None:
                raise
            raise translated from exc
        finally:
            self.connected.clear()
            self._conn = None
            if conn is not None and not conn.is_closed():
                conn.terminate()
            self._wake_everyone()


class JobsDue:
    """Tells this process's claim loops and every other replica's that jobs are due (at a
    time): local loops at once, other replicas by a coalesced NOTIFY carrying the time: at
    most one in flight, one more after it if more came meanwhile. A NOTIFY inside each
    submit transaction would serialise commits on PostgreSQL's notify lock."""

    DEBOUNCE_SECONDS = 0.01

    def __init__(self, pool: asyncpg.Pool, listener: Listener) -> None:
        self._pool = pool
        self._local = listener.jobs_due
        self._pending = False
        self._due: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    def jobs_due(self, due: datetime | None) -> None:
        """Jobs were queued (submitted, retried, rescued, redriven); the earliest is due at `due`."""
        self._local(due)
        if not self._pending or (self._due is not None and (due is None or due < self._due)):
            self._due = due
        self._pending = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._send(), name="jobsvc-wake")

    async def _send(self) -> None:
        # Debounced: at most one NOTIFY per interval however many submits arrive, since
        # NOTIFY commits take a global lock and each costs other commits latency.
        while self._pending:
            self._pending = False
            due = self._due if self._due is not None and self._due > datetime.now(UTC) else None
            payload = "" if due is None else f"{due.timestamp():.3f}"
            try:
                # Bounded: a database that does not answer (a blackhole) must not hold
                # back the NOTIFYs that come after this one.
                sql, args = bind("job_executors_wake", due=payload)
                await asyncio.wait_for(self._pool.execute(sql, *args), CONNECT_TIMEOUT)
            except Exception as exc:  # the executors' poll picks the jobs up anyway
                log.warning("could not notify executors: %s", exc)
                return
            await asyncio.sleep(self.DEBOUNCE_SECONDS)


_NOTIFY_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, asyncpg.PostgresError)

# NOTIFY payloads are limited to 8000 bytes; 36-byte ids plus commas.
_IDS_PER_NOTIFY = 200


class EventNotifier:
    """Tells waiters in every process that jobs have new events: local waiters at once
    (through `local`: the Listener's notify_local), other processes with one coalesced
    NOTIFY per flush, sent after the commits."""

    def __init__(self, pool: asyncpg.Pool, local: Callable[[str], None] | None = None) -> None:
        self._pool = pool
        self._local = local
        self._pending: dict[str, None] = {}
        self._task: asyncio.Task[None] | None = None

    def changed(self, job_ids: Iterable[str]) -> None:
        """The jobs' event logs grew (their transaction has committed)."""
        ids = list(job_ids)
        if self._local is not None:
            for job_id in ids:
                self._local(job_id)
        self._pending.update(dict.fromkeys(ids))
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._flush(), name="jobsvc-notify")

    async def _flush(self) -> None:
        while self._pending:
            ids = list(self._pending)[:_IDS_PER_NOTIFY]
            for job_id in ids:
                del self._pending[job_id]
            try:
                sql, args = bind("job_events_notify", job_ids=",".join(ids))
                await self._pool.execute(sql, *args)
            except _NOTIFY_ERRORS as exc:
                # Waiters in other processes re-read on their poll interval anyway.
                log.warning("could not notify %d job change(s): %s", len(ids), exc)

    async def close(self) -> None:
        """Send what is pending."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


class PgNotifications:
    """The storage port's Notifications over PostgreSQL: the Listener hears, JobsDue and
    the store's EventNotifier speak."""

    def __init__(self, listener: Listener, pool: asyncpg.Pool) -> None:
        self._listener = listener
        self._jobs_due = JobsDue(pool, listener)

    def subscribe(
        self, job_id: str, event: asyncio.Event | None = None
    ) -> contextlib.AbstractContextManager[asyncio.Event]:
        """An event set whenever job_id may have new events; clear it before re-reading
        (`event`: this one, shared by many jobs)."""
        return self._listener.subscribe(job_id, event)

    def due_signal(self) -> contextlib.AbstractContextManager[asyncio.Event]:
        """An event of one claim loop's own, set whenever jobs may have become due."""
        return self._listener.due_signal()

    def jobs_due(self, at: datetime | None) -> None:
        """Jobs are due at `at`: this process's claim loops and every other replica's are woken then."""
        self._jobs_due.jobs_due(at)

    def on_cancel(self, callback: Callable[[str], None]) -> None:
        """Call callback(job_id) when any replica asks to cancel a running job."""
        self._listener.on_cancel(callback)

    def notify_local(self, job_id: str) -> None:
        """Wake this process's waiters of job_id without a database round trip."""
        self._listener.notify_local(job_id)

    def on_pauses_changed(self, callback: Callable[[], None]) -> None:
        """Call callback() when any replica pauses or resumes (or a change may have been missed)."""
        self._listener.on_pauses_changed(callback)

    def quiet_for(self) -> float:
        """Seconds since a job last changed, on any replica (inf: none since the start)."""
        return self._listener.quiet_for()
