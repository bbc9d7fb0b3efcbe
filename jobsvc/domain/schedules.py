"""Schedules: a cron expression (in a time zone) or a fixed interval that submits a job.

Each tick is submitted exactly once however many replicas run: the job's idempotency key
names the schedule and the tick, so replicas that race on one tick make one job, and the
schedule's next tick only moves forward by compare-and-set.

Ticks missed while no replica ran follow the schedule's `missed_ticks`:
- SKIP (default): a tick more than MISFIRE_GRACE late is dropped; the schedule carries on
  from the next tick.
- RUN_ONCE: one job runs for all the ticks missed (the latest of them), then the schedule
  carries on.

Ticks that fall while the schedule's job is paused (its handler, its version or one of its
flow-control keys, with PauseService; not the schedule itself, whose ticks while paused
never run) follow the schedule's `while_paused`:
- SKIP (default): the tick submits nothing, so that resuming does not release a burst of
  stale ticks at once (a job that runs every minute, paused for an hour, would otherwise
  run sixty times back to back); the schedule carries on with its next tick.
- KEEP: the tick is submitted as usual and waits, queued with wait reason PAUSED, until
  the resume: for schedules whose every tick counts (an hourly billing run, say).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from jobsvc.domain.jobs import JobSpec, Payload
from jobsvc.domain.values import JsonValue

# A tick submitted later than this after its time counts as missed.
MISFIRE_GRACE = timedelta(seconds=1)
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.\-:@]{0,127}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MissedTicks(enum.StrEnum):
    """What happens to ticks that passed while no replica was running."""

    SKIP = "skip"
    RUN_ONCE = "run_once"


class WhilePaused(enum.StrEnum):
    """What a tick does while the job it would submit is paused (see the module docstring)."""

    SKIP = "skip"
    KEEP = "keep"


CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
MAX_CRON_LENGTH = 256


def _cron_problem(cron: str, zone: ZoneInfo) -> str | None:
    """What is wrong with a cron expression, or None.

    The five fields of CRON_FIELDS as cronsim reads them: numbers, ranges, steps, lists,
    names (MON, JAN), day-of-month L and LW, day-of-week 5L and 5#2. cronsim would also
    take a sixth, leading field as seconds, which the API never documented; it is refused,
    as are other crons' macros (@daily) and CRON_TZ= prefix, each saying what to write.
    """
    if len(cron) > MAX_CRON_LENGTH:
        return f"a cron expression is at most {MAX_CRON_LENGTH} characters"
    fields = cron.split()
    expected = f"{len(CRON_FIELDS)} fields ({' '.join(CRON_FIELDS)})"
    if fields and fields[0].startswith("@"):
        return f"{fields[0]} is not supported: write the {expected}"
    if fields and "=" in fields[0]:
        return f"{fields[0].split('=')[0]}= is not supported: the time zone is the time_zone field"
    if len(fields) != len(CRON_FIELDS):
        seconds = " (a seconds field is not supported)" if len(fields) == len(CRON_FIELDS) + 1 else ""
        return f"a cron expression has {expected}, got {len(fields)}{seconds}"
    try:
        next(CronSim(cron, datetime.now(zone)))
    except (CronSimError, StopIteration, ValueError) as exc:
        return f"invalid cron expression {cron!r}: {exc}"
    return None


@dataclass(frozen=True, slots=True)
class Timing:
    """When a schedule ticks: a 5-field cron expression in a time zone, or every N seconds
    (ticks aligned to whole multiples of N since the Unix epoch)."""

    cron: str | None = None
    every: float | None = None
    time_zone: str = "UTC"

    def problems(self) -> list[tuple[str, str]]:
        """(field, what is wrong) for each invalid part."""
        if (self.cron is None) == (self.every is None):
            return [("cron", "give exactly one of a cron expression and an interval")]
        found: list[tuple[str, str]] = []
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            found.append(("time_zone", f"unknown time zone {self.time_zone!r} (an IANA name such as Europe/Paris)"))
            zone = ZoneInfo("UTC")
        if self.cron is not None:
            if (problem := _cron_problem(self.cron, zone)) is not None:
                found.append(("cron", problem))
        elif self.every is not None and not 0.1 <= self.every <= 366 * 86400:
            found.append(("interval", "must be between 100 ms and 366 days"))
        return found

    def next_after(self, moment: datetime) -> datetime:
        """The first tick strictly after `moment`."""
        if self.every is not None:
            return _EPOCH + timedelta(seconds=self.every * ((moment - _EPOCH).total_seconds() // self.every + 1))
        assert self.cron is not None
        return next(CronSim(self.cron, moment.astimezone(ZoneInfo(self.time_zone)))).astimezone(UTC)

    def latest_at_or_before(self, moment: datetime) -> datetime:
        """The last tick at or before `moment`."""
        if self.every is not None:
            return _EPOCH + timedelta(seconds=self.every * ((moment - _EPOCH).total_seconds() // self.every))
        assert self.cron is not None
        local = moment.astimezone(ZoneInfo(self.time_zone))
        before = next(CronSim(self.cron, local, reverse=True))
        after = next(CronSim(self.cron, before))
        return (after if after <= local else before).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule as declared (in code or over the API) and, once stored, its state."""

    name: str
    job: JobSpec
    timing: Timing
    missed_ticks: MissedTicks = MissedTicks.SKIP
    paused: bool = False
    source: str = "api"
    while_paused: WhilePaused = WhilePaused.SKIP
    next_tick_at: datetime | None = None
    last_tick_at: datetime | None = None
    last_job_id: str | None = None
    created_at: datetime | None = None

    def problems(self) -> list[tuple[str, str]]:
        """(field, what is wrong) for each invalid part of the declaration."""
        found = [] if re.match(NAME_PATTERN, self.name) else [("name", f"must match {NAME_PATTERN}")]
        if self.job.idempotency_key or self.job.run_at:
            found.append(("job", "idempotency_key, run_at and delay are set per tick by the schedule"))
        return found + self.timing.problems()

    def due_tick(self, now: datetime) -> datetime | None:
        """The tick to submit now (None: none is due, or the due ones are dropped as missed)."""
        if self.next_tick_at is None or self.next_tick_at > now:
            return None
        latest = self.timing.latest_at_or_before(now)
        if self.missed_ticks is MissedTicks.SKIP and now - latest > MISFIRE_GRACE:
            return None
        return latest

    def idempotency_key(self, tick: datetime) -> str:
        """The one key a tick's job may have, on every replica."""
        return f"jobsvc.schedule/{self.name}/{tick.astimezone(UTC).isoformat()}"


def schedule(
    name: str,
    *,
    cron: str | None = None,
    every: float | timedelta | None = None,
    time_zone: str = "UTC",
    input: JsonValue = None,
    missed_ticks: MissedTicks | str = MissedTicks.SKIP,
    priority: int = 0,
    labels: dict[str, str] | None = None,
    while_paused: WhilePaused | str = WhilePaused.SKIP,
) -> ScheduleDeclaration:
    """A schedule beside a handler: `@handler(..., schedules=[schedule("nightly", cron="0 3 * * *")])`."""
    seconds = every.total_seconds() if isinstance(every, timedelta) else every
    return ScheduleDeclaration(
        name,
        Timing(cron, seconds, time_zone),
        input,
        MissedTicks(missed_ticks),
        priority,
        dict(labels or {}),
        WhilePaused(while_paused),
    )


@dataclass(frozen=True, slots=True)
class ScheduleDeclaration:
    """A schedule declared in code; the handler and version are the declaring handler's."""

    name: str
    timing: Timing
    input: JsonValue = None
    missed_ticks: MissedTicks = MissedTicks.SKIP
    priority: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    while_paused: WhilePaused = WhilePaused.SKIP

    def schedule(self, handler: str, version: str) -> Schedule:
        """The stored form, for the handler that declared it."""
        job = JobSpec(handler, version, Payload(json=self.input), priority=self.priority, labels=self.labels)
        return Schedule(self.name, job, self.timing, self.missed_ticks, source="code", while_paused=self.while_paused)
