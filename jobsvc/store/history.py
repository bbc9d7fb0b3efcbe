"""The history of finished jobs (migration 0016): its partitions, one per UTC day of
expiry, each made before the first rows that expire that day move in and dropped whole
once the day is over.

The rows move in by SQL (job_history_walk, job_history_move in queries.sql); what is here
is the naming of the partitions and the DDL that drops them, which cannot be a parameter
of a statement nor run inside a function (DETACH ... CONCURRENTLY).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger("jobsvc.history")

_PARTITION = re.compile(r"^(jobsvc_jobs_history|jobsvc_job_events_history)_\d{8}$")
_PARENTS = ("jobsvc_jobs_history", "jobsvc_job_events_history")

# How long a drop's DETACH may wait for the transactions that still read the partition:
# one that overruns is left pending and finished (FINALIZE) by the next run.
DETACH_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Partition:
    """A table of the history's whose day is over, as job_history_partitions_over reads it."""

    name: str
    parent: str | None  # None: detached, not dropped yet
    detaching: bool
    day: date  # the UTC day in which its rows' retention ended


def expiry_days(moments: Iterable[datetime]) -> list[date]:
    """The UTC days of `moments`, once each: the partitions rows expiring then go to."""
    return sorted({moment.astimezone(UTC).date() for moment in moments})


async def drop(conn: PoolConnectionProxy[asyncpg.Record], partitions: Sequence[Partition]) -> list[date]:
    """Detach (CONCURRENTLY: readers of the history are not blocked) and drop each of
    `partitions`; the days dropped. Outside any transaction, as DETACH CONCURRENTLY must
    be. Another replica dropping the same partition at once makes one of the two fail on
    it: that one logs it and goes on (the table is gone either way)."""
    dropped: set[date] = set()
    for partition in partitions:
        name = _quoted(partition.name)
        try:
            if partition.parent is not None:
                how = "FINALIZE" if partition.detaching else "CONCURRENTLY"
                await conn.execute(
                    f"ALTER TABLE {_quoted(partition.parent)} DETACH PARTITION {name} {how}", timeout=DETACH_TIMEOUT
                )
            await conn.execute(f"DROP TABLE IF EXISTS {name}")
        except (asyncpg.ObjectNotInPrerequisiteStateError, asyncpg.UndefinedTableError) as exc:
            log.info("history partition %s: left to the replica dropping it too (%s)", partition.name, exc)
            continue
        except TimeoutError:
            log.warning(
                "history partition %s: still read after %.0f s; its drop is finished later",
                partition.name,
                DETACH_TIMEOUT,
            )
            continue
        dropped.add(partition.day)
    return sorted(dropped)


def _quoted(name: str) -> str:
    # Names come from job_history_partitions_over, which selects only _PARTITION's (and the
    # two parents): letters, digits and underscores, nothing to escape.
    if not (_PARTITION.match(name) or name in _PARENTS):
        raise ValueError(f"not a history table: {name!r}")
    return f'"{name}"'
