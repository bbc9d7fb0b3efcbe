"""Does the hot path slow down as the history grows, and what does a day of retention cost?
(Issue 18: end-to-end jobs/s and Call p50 with 0, 10 million and 50 million finished jobs
in the database; the time and WAL of one day's retention before and after partitioning.)

    python -m bench.history [--sizes 0,10000000,50000000] [--days 7] [--history-after 3600,5]
                            [--quick] [--json out.json]

Starts a private PostgreSQL (fsync on, as the harness's), and for each size a fresh
database holding that many finished jobs in the history (migration 0016), each with its
three events (queued, started, succeeded), spread over --days days of expiry and 20
handlers. They are generated in PostgreSQL (INSERT ... SELECT over generate_series, into
each day's table before its indexes are built and it is attached: faster than COPY from a
client, which would only parse what this writes directly); then a checkpoint, and a wait
until autovacuum is done with them, so that the windows measure the service, not the
fill's aftermath. Then, for each --history-after, a jobsvc server process with it serves
the harness's end-to-end scenario (bench.scenarios.e2e_run) and, once that load's
backlog has run, its Call scenario with one caller (call_run), measured as bench.run
measures them: with 3600 no job moves during the windows (the hot path alone), with 5
the server's own jobs move to the history meanwhile (what the move adds).

Retention, at each size with history: one day's jobs deleted row by row from the live
table as the reaper did before 0016 (job_reap_finished in batches of 10,000; the same
number of jobs, planted there with their events), against what the history costs
instead: moving as many jobs there (job_history_move, in maintenance's batches), and the
drop of one day's history partitions (job_history_drop); each with its wall time and
the WAL it wrote.
Everything it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

import asyncpg

from bench.dbstats import db_stats
from bench.processes import (
    CpuProbe,
    ServerOptions,
    create_database,
    fresh_postgres,
    postmaster_pid,
    server_processes,
)
from bench.run import counting_pool, measure_window, preload_statements
from bench.scenarios import COUNT_SUCCEEDED, FULL, QUICK, Context, Outcome, call_run, e2e_run
from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.sdk import Client
from jobsvc.store.postgres import PgStore, create_pool

HANDLERS = 20
# Long enough that every planted job finished weeks ago, however far ahead its day of
# expiry: none was created within the last hour, which is what the harness counts.
RETENTION = 30 * 86400.0
E2E_CONCURRENCY = 64
REAP_BATCH = 10_000

# One day's finished jobs ($2 of them, ids $1.., expiring through the day $3) into the
# detached table named by the caller; their events likewise. Finished a retention before
# they expire, created 50 ms before they finished.
FILL_JOBS = """
INSERT INTO {table} (expires_at, id, handler, version_selector, version, state, input, result, attempt,
                     last_seq, created_at, run_at, order_at, started_at, finished_at, retention)
SELECT e, gen_random_uuid(), 'h' || (i % {handlers}), '', '1.0.0', 'succeeded', '{{"n": 1}}', '{{"ok": true}}', 1,
       3, f - interval '50 milliseconds', f - interval '50 milliseconds', f - interval '50 milliseconds',
       f - interval '10 milliseconds', f, {retention}
FROM generate_series(1, $1::bigint) AS i,
     LATERAL (SELECT $2::timestamptz + make_interval(secs => 86399.0 * i / $1::bigint)) AS at(e),
     LATERAL (SELECT e - make_interval(secs => {retention})) AS done(f)
"""
FILL_EVENTS = """
INSERT INTO {events} (expires_at, job_id, seq, kind, "time")
SELECT j.expires_at, j.id, k.seq, k.kind, j.finished_at
FROM {table} j, (VALUES (1, 'queued'), (2, 'started'), (3, 'succeeded')) AS k(seq, kind)
"""
# A job id as the store makes them (jobsvc.store.ids: version 7, the creation time first),
# for the jobs planted in the live table, which the move then takes in that order.
UUID7 = """
CREATE OR REPLACE FUNCTION jobsvc_bench_uuid7(at timestamptz) RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT (lpad(to_hex(floor(extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7'
            || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid
$$
"""
# A day's jobs in the live table, finished $3 ago with a retention of 7 days, each with
# its three events: past their retention (8 days), for the reaper to delete as it did
# before 0016; or not (1 day), for the move to the history.
PLANT_LIVE = """
WITH jobs AS (
    INSERT INTO jobsvc_jobs (id, handler, version_selector, version, state, input, result, attempt, last_seq,
                             created_at, run_at, order_at, started_at, finished_at, retention)
    SELECT jobsvc_bench_uuid7(now() - $3::interval + make_interval(secs => i / $1::float8)),
           'h' || (i % $2), '', '1.0.0', 'succeeded', '{"n": 1}', '{"ok": true}', 1, 3,
           now() - $3::interval, now() - $3::interval, now() - $3::interval,
           now() - $3::interval, now() - $3::interval + make_interval(secs => i / $1::float8), 604800
    FROM generate_series(1, $1::bigint) AS i
    RETURNING id, finished_at
)
INSERT INTO jobsvc_job_events (job_id, seq, kind, "time")
SELECT j.id, k.seq, k.kind, j.finished_at
FROM jobs j, (VALUES (1, 'queued'), (2, 'started'), (3, 'succeeded')) AS k(seq, kind)
"""
# The costliest statements of each end-to-end load, by database time per job finished.
STATEMENTS_SHOWN = 8
COUNT_UNFINISHED = "SELECT count(*) FROM jobsvc_jobs WHERE state IN ('queued', 'running')"
WAL_LSN = "SELECT pg_current_wal_lsn()"
WAL_BYTES = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint"


@dataclass
class HotPath:
    """The end-to-end and Call figures of one server."""

    history_after: float
    e2e: float
    e2e_cores: dict[str, float]
    call_rate: float
    call_p50: float
    call_p99: float

    def line(self) -> str:
        """One line of the report."""
        cores = " ".join(f"{party} {used:.2f}" for party, used in self.e2e_cores.items())
        return (
            f"history after {self.history_after:g} s: end to end {self.e2e:,.0f} jobs/s (cores: {cores}); "
            f"Call, 1 caller: p50 {self.call_p50:.2f} ms, p99 {self.call_p99:.2f} ms"
        )


@dataclass
class SizeResult:
    """What one history size measured."""

    history_jobs: int
    fill_seconds: float = 0.0
    database_bytes: int = 0
    hot_paths: list[HotPath] = field(default_factory=list)
    retention: dict[str, float] = field(default_factory=dict)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, day_time(), UTC)


async def fill(dsn: str, jobs: int, days: int) -> float:
    """Migrate, then put `jobs` finished jobs in the history over `days` days of expiry
    (from the day after tomorrow); seconds it took. Two days are filled at once (two cores)."""
    started = time.perf_counter()
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        await PgStore(pool).migrate()
    finally:
        await pool.close()
    if not jobs:
        return time.perf_counter() - started
    first = datetime.now(UTC).date() + timedelta(days=2)
    per_day = [jobs // days + (1 if d < jobs % days else 0) for d in range(days)]
    queue: asyncio.Queue[tuple[date, int]] = asyncio.Queue()
    for offset, count in enumerate(per_day):
        queue.put_nowait((first + timedelta(days=offset), count))

    async def filler() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            while not queue.empty():
                day, count = queue.get_nowait()
                await _fill_day(conn, day, count)
        finally:
            await conn.close()

    await asyncio.gather(filler(), filler())
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE jobsvc_jobs_history")
        await conn.execute("VACUUM ANALYZE jobsvc_job_events_history")
        took = time.perf_counter() - started
        # What the fill left to write out and vacuum is not the hot path's cost: done
        # before the windows, as on a server whose history grew over days.
        await conn.execute("CHECKPOINT")
        await _until_autovacuum_idle(conn)
    finally:
        await conn.close()
    return took


async def _until_autovacuum_idle(conn: asyncpg.Connection, timeout: float = 600.0) -> None:
    for _ in range(int(timeout)):
        busy = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")
        if not busy:
            return
        await asyncio.sleep(1.0)


async def _fill_day(conn: asyncpg.Connection, day: date, count: int) -> None:
    """One day's jobs and events into tables of their own, then attached as the day's
    partitions (named as jobsvc_history_partition names them; attaching builds their
    indexes in one sorted pass each)."""
    suffix = f"{day:%Y%m%d}"
    table, events = f"jobsvc_jobs_history_{suffix}", f"jobsvc_job_events_history_{suffix}"
    await conn.execute(f"CREATE TABLE {table} (LIKE jobsvc_jobs_history INCLUDING DEFAULTS)")
    await conn.execute(f"CREATE TABLE {events} (LIKE jobsvc_job_events_history INCLUDING DEFAULTS)")
    sql = FILL_JOBS.format(table=table, handlers=HANDLERS, retention=RETENTION)
    await conn.execute(sql, count, _day_start(day))
    await conn.execute(FILL_EVENTS.format(events=events, table=table))
    bounds = (
        f"FOR VALUES FROM ('{_day_start(day).isoformat()}') TO ('{_day_start(day + timedelta(days=1)).isoformat()}')"
    )
    await conn.execute(f"ALTER TABLE jobsvc_jobs_history ATTACH PARTITION {table} {bounds}")
    await conn.execute(f"ALTER TABLE jobsvc_job_events_history ATTACH PARTITION {events} {bounds}")


async def measure_hot_path(
    pg: Any, dsn: str, name: str, logs: Path, *, quick: bool, history_after: float
) -> tuple[Outcome, Outcome]:
    """The harness's end-to-end and Call (one caller) scenarios on a server of `dsn`."""
    options = ServerOptions(concurrency=E2E_CONCURRENCY, history_after=history_after)
    async with contextlib.AsyncExitStack() as stack:
        servers = await stack.enter_async_context(server_processes(dsn, options, logs, name))
        client = await stack.enter_async_context(Client(servers[0].target))
        pool = await stack.enter_async_context(counting_pool(dsn))
        probe = CpuProbe({"server": [s.pid for s in servers]}, postmaster_pid(pg))
        ctx = Context(
            client, pool, QUICK if quick else FULL, measure_window(probe, None), servers=servers, clients=[client]
        )
        stats = await stack.enter_async_context(db_stats(pg.dsn, dsn.rsplit("/", 1)[-1], True))
        await stats.reset_statements()
        done_before = await pool.fetchval(COUNT_SUCCEEDED)
        e2e = await e2e_run(E2E_CONCURRENCY, key="e2e")(ctx)
        await _until_drained(pool)  # the end-to-end load's backlog would delay the Calls
        jobs = await pool.fetchval(COUNT_SUCCEEDED) - done_before
        statements = await stats.top_statements(10_000)
        # The service's statements only (each begins with its comment in queries.sql), not
        # this harness's counting.
        per_job = [(total / jobs, calls / jobs, q) for total, calls, _, q in statements if q.startswith("--")]
        e2e.details["statements_per_job"] = per_job[:STATEMENTS_SHOWN]
        e2e.details["statement_ms_per_job"] = sum(ms for ms, _, _ in per_job)
        call = await call_run(1)(ctx)
        for server in servers:
            errors = server.logged_errors()
            if errors:
                raise RuntimeError(f"server logged {len(errors)} error(s), the first: {errors[0]}")
        return e2e, call


async def _until_drained(pool: asyncpg.Pool, timeout: float = 300.0) -> None:
    for _ in range(int(timeout)):
        if not await pool.fetchval(COUNT_UNFINISHED):
            return
        await asyncio.sleep(1.0)
    raise RuntimeError(f"jobs still queued or running {timeout:.0f} s after the end-to-end load")


async def _vacuum_seconds(conn: asyncpg.Connection) -> float:
    """How long the vacuum of the live tables takes after a day's jobs left them (autovacuum's
    work, which either way follows the deletes)."""
    began = time.perf_counter()
    await conn.execute("VACUUM jobsvc_jobs, jobsvc_job_events")
    return time.perf_counter() - began


async def measure_retention(dsn: str, day_jobs: int) -> dict[str, float]:
    """One day of retention both ways: seconds and WAL bytes."""
    conn = await asyncpg.connect(dsn)
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        store = PgStore(pool)
        await conn.execute(UUID7)
        await conn.execute(PLANT_LIVE, day_jobs, HANDLERS, timedelta(days=8))
        await conn.execute("VACUUM ANALYZE jobsvc_jobs")
        await conn.execute("CHECKPOINT")
        lsn = await conn.fetchval(WAL_LSN)
        began = time.perf_counter()
        deleted = 0
        while reaped := await store.job_reap_finished(REAP_BATCH):
            deleted += reaped
        delete_seconds = time.perf_counter() - began
        delete_wal = await conn.fetchval(WAL_BYTES, lsn)
        delete_vacuum = await _vacuum_seconds(conn)
        if deleted != day_jobs:
            raise RuntimeError(f"the reaper deleted {deleted} jobs of {day_jobs}")

        # What the history costs instead, a job at a time: its move, in maintenance's batches
        # (from the start of the walk: the planted jobs finished before the mark).
        await conn.execute(PLANT_LIVE, day_jobs, HANDLERS, timedelta(days=1))
        await conn.execute("UPDATE jobsvc_history_mark SET through_at = '-infinity'")
        await conn.execute("UPDATE jobsvc_finished_rollup SET through = now()")  # as if counted
        await conn.execute("VACUUM ANALYZE jobsvc_jobs")
        await conn.execute("CHECKPOINT")
        lsn = await conn.fetchval(WAL_LSN)
        began = time.perf_counter()
        moved = 0
        while True:
            step = await store.job_history_move(3600.0, MaintenanceConfig.history_batch)
            moved += step.moved
            if not step.more:
                break
        move_seconds = time.perf_counter() - began
        move_wal = await conn.fetchval(WAL_BYTES, lsn)
        move_vacuum = await _vacuum_seconds(conn)
        if moved != day_jobs:
            raise RuntimeError(f"moved {moved} jobs of {day_jobs}")

        [first] = await conn.fetch(
            "SELECT min(relname) AS name FROM pg_class WHERE relname ~ '^jobsvc_jobs_history_[0-9]{8}$'"
        )
        day = datetime.strptime(first["name"][-8:], "%Y%m%d").replace(tzinfo=UTC)
        dropped_jobs = await conn.fetchval(f"SELECT count(*) FROM {first['name']}")
        await conn.execute("CHECKPOINT")
        lsn = await conn.fetchval(WAL_LSN)
        began = time.perf_counter()
        dropped = await store.job_history_drop(now=day + timedelta(days=1))
        drop_seconds = time.perf_counter() - began
        drop_wal = await conn.fetchval(WAL_BYTES, lsn)
        if dropped != [day.date()]:
            raise RuntimeError(f"dropped {dropped}, not {day.date()}")
        return {
            "delete_jobs": float(deleted),
            "delete_seconds": delete_seconds,
            "delete_wal_bytes": float(delete_wal),
            "move_jobs": float(moved),
            "move_seconds": move_seconds,
            "move_wal_bytes": float(move_wal),
            "delete_vacuum_seconds": delete_vacuum,
            "move_vacuum_seconds": move_vacuum,
            "drop_jobs": float(dropped_jobs),
            "drop_seconds": drop_seconds,
            "drop_wal_bytes": float(drop_wal),
        }
    finally:
        await pool.close()
        await conn.close()


async def run(args: argparse.Namespace, pg: Any, logs: Path) -> list[SizeResult]:
    """Every size in turn, each on a database of its own."""
    found: list[SizeResult] = []
    for size in args.sizes:
        result = SizeResult(size)
        dsn = await create_database(pg, f"bench_history_{size}")
        print(f"\n[{size:,} finished jobs in the history]", flush=True)
        result.fill_seconds = await fill(dsn, size, args.days)
        conn = await asyncpg.connect(dsn)
        try:
            result.database_bytes = await conn.fetchval("SELECT pg_database_size(current_database())")
        finally:
            await conn.close()
        print(f"  filled in {result.fill_seconds:.0f} s; database {result.database_bytes / 2**30:.1f} GiB", flush=True)
        for history_after in args.history_after:
            name = f"history_{size}_{history_after:g}"
            e2e, call = await measure_hot_path(pg, dsn, name, logs, quick=args.quick, history_after=history_after)
            rate, p50, p99 = (m.value for m in call.measures)
            result.hot_paths.append(HotPath(history_after, e2e.measures[0].value, e2e.cpu, rate, p50, p99))
            print(f"  {result.hot_paths[-1].line()}", flush=True)
            print(f"    database time per job, all statements: {e2e.details['statement_ms_per_job'] * 1000:.1f} us")
            for ms, calls, query in e2e.details["statements_per_job"]:
                print(f"    {ms * 1000:6.1f} us/job  {calls:5.2f} calls/job  {' '.join(query.split())[:90]}")
        if size:
            result.retention = await measure_retention(dsn, args.retention_jobs or size // args.days)
            r = result.retention
            print(
                f"  one day's retention: {r['delete_jobs']:,.0f} jobs deleted row by row in "
                f"{r['delete_seconds']:.1f} s, {r['delete_wal_bytes'] / 2**20:,.0f} MiB of WAL; "
                f"vacuum after {r['delete_vacuum_seconds']:.1f} s; "
                f"as many moved to the history in {r['move_seconds']:.1f} s, "
                f"{r['move_wal_bytes'] / 2**20:,.0f} MiB of WAL, vacuum after {r['move_vacuum_seconds']:.1f} s; "
                f"{r['drop_jobs']:,.0f} jobs dropped with their partitions in {r['drop_seconds']:.2f} s, "
                f"{r['drop_wal_bytes'] / 2**10:,.0f} KiB of WAL",
                flush=True,
            )
        found.append(result)
        admin = await asyncpg.connect(pg.dsn)
        try:  # its disk back before the next size fills
            await admin.execute(f"DROP DATABASE bench_history_{size}")
        finally:
            await admin.close()
    return found


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="0,10000000,50000000",
        type=lambda text: [int(n) for n in text.split(",") if n.strip()],
        help="finished jobs in the history, one database each (default 0,10000000,50000000)",
    )
    parser.add_argument("--days", type=int, default=7, help="days of expiry the history spreads over (default 7)")
    parser.add_argument(
        "--retention-jobs", type=int, default=0, help="jobs in the day of retention measured (default: size / days)"
    )
    parser.add_argument(
        "--history-after",
        default="3600,5",
        type=lambda text: [float(n) for n in text.split(",") if n.strip()],
        help="the server's --history-after, a server each (default 3600,5: the hot path alone, as no job moves "
        "within the windows; then with its own jobs moving meanwhile)",
    )
    parser.add_argument("--quick", action="store_true", help="the harness's quick windows")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    with fresh_postgres() as pg, tempfile.TemporaryDirectory(prefix="jobsvc-bench-history-") as logs:
        if not preload_statements(pg):
            raise SystemExit("pg_stat_statements is needed: the database time per job is what this measures")
        results = asyncio.run(run(args, pg, Path(logs)))
    print(
        "\nhistory jobs | history after s | e2e jobs/s | Call p50 ms | Call p99 ms | "
        "a day's jobs: deleted s / WAL MiB | moved s / WAL MiB | dropped s / WAL KiB"
    )
    for r in results:
        retention = r.retention
        day = (
            f"{retention['delete_seconds']:.1f} / {retention['delete_wal_bytes'] / 2**20:,.0f} | "
            f"{retention['move_seconds']:.1f} / {retention['move_wal_bytes'] / 2**20:,.0f} | "
            f"{retention['drop_seconds']:.2f} / {retention['drop_wal_bytes'] / 2**10:,.0f}"
            if retention
            else "- | - | -"
        )
        for h in r.hot_paths:
            print(
                f"{r.history_jobs:,} | {h.history_after:g} | {h.e2e:,.0f} | {h.call_p50:.2f} | {h.call_p99:.2f} | {day}"
            )
    if args.json is not None:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
