"""How fast the dashboard's pages answer with a long history (issue 15: under 200 ms each
with 1,000,000 finished jobs), with EXPLAIN (ANALYZE, BUFFERS) of each query behind them.

    python -m bench.dashboard_pages [--jobs 1000000] [--last-hour 3000] [--runs 20]

Starts a private PostgreSQL (fsync off: this measures reads), fills one database with
--jobs finished jobs older than an hour and --last-hour within the last hour (20
handlers, 2% failed, 1% cancelled, evenly spread) plus 1,000 queued and 50 running
ones, rolls the finished jobs up into per-minute counts as maintenance does (migration
0012; timed) and moves those older than an hour to the history (0016; timed: all but the
failed ones, the dead-letter queue stays), starts a jobsvc server on it with the HTTP port on, and times each page's
API calls over HTTP (median and max of --runs), as the browser makes them. Everything it
starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.domain.jobs import RollupConfig
from jobsvc.server import JobsvcServer, ServerConfig
from jobsvc.store.embedded import EmbeddedPostgres
from jobsvc.store.postgres import PgStore, create_pool
from jobsvc.store.sql import bind

HANDLERS = 20
# The jobs older than this are in the history, the newer ones in jobsvc_jobs (its 30-day
# retention keeps every planted job out of the reaper's reach).
HISTORY_AFTER = 3600.0
FILL = """
INSERT INTO jobsvc_jobs (id, handler, version_selector, version, state, input, result, error, attempt,
                         created_at, run_at, order_at, started_at, finished_at, retention)
SELECT gen_random_uuid(), 'h' || (i % $2), '', '1.0.0',
       CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 100 = 1 THEN 'cancelled' ELSE 'succeeded' END,
       '{"n": 1}', '{"ok": true}',
       CASE WHEN i % 50 = 0 THEN '{"type": "ValueError", "message": "bad"}'::jsonb END, 1,
       now() - make_interval(secs => i * $4::float8), now() - make_interval(secs => i * $4::float8),
       now() - make_interval(secs => i * $4::float8), now() - make_interval(secs => i * $4::float8),
       now() - make_interval(secs => i * $4::float8) + interval '50 milliseconds', 30 * 86400
FROM generate_series($1::int, $1::int + $3::int - 1) AS i
"""
ACTIVE = """
INSERT INTO jobsvc_jobs (id, handler, version_selector, version, state, input, attempt, created_at, run_at,
                         started_at, lease_expires_at, lease_owner, attempt_token)
SELECT gen_random_uuid(), 'h' || (i % $1), '', '1.0.0', CASE WHEN i <= 50 THEN 'running' ELSE 'queued' END,
       '{"n": 1}', CASE WHEN i <= 50 THEN 1 ELSE 0 END,
       now() - make_interval(secs => i), now() - make_interval(secs => i),
       CASE WHEN i <= 50 THEN now() END, CASE WHEN i <= 50 THEN now() + interval '1 hour' END,
       CASE WHEN i <= 50 THEN 'bench' END, CASE WHEN i <= 50 THEN gen_random_uuid() END
FROM generate_series(1, 1050) AS i
"""

# Each page and the API calls it makes (what jobsvc/web/static/app.js sends).
PAGES: dict[str, tuple[str, dict[str, Any]]] = {
    "overview": ("StatsService/GetQueueStats", {}),
    "jobs, first page": ("JobService/ListJobs", {"pageSize": 25, "view": "JOB_VIEW_BASIC"}),
    "jobs of one handler": ("JobService/ListJobs", {"pageSize": 25, "view": "JOB_VIEW_BASIC", "handler": "h7"}),
    "failed jobs": ("JobService/ListJobs", {"pageSize": 25, "view": "JOB_VIEW_BASIC", "states": ["JOB_STATE_FAILED"]}),
    "failed jobs of one handler": (
        "JobService/ListJobs",
        {"pageSize": 25, "view": "JOB_VIEW_BASIC", "states": ["JOB_STATE_FAILED"], "handler": "h0"},
    ),
    "running jobs": (
        "JobService/ListJobs",
        {"pageSize": 25, "view": "JOB_VIEW_BASIC", "states": ["JOB_STATE_RUNNING"]},
    ),
    "queued jobs": (
        "JobService/ListJobs",
        {"pageSize": 25, "view": "JOB_VIEW_BASIC", "states": ["JOB_STATE_QUEUED"]},
    ),
}
# The named queries behind them, with the parameters the store passes (WATERMARK: the
# roll-up's watermark, read when they run, as PgStore does).
WATERMARK = object()
LIST = {
    "cursor_created_at": None,
    "cursor_id": None,
    "page_size": 26,
    "payloads": False,
    "labels": None,
    "version": None,
    "created_after": None,
    "created_before": None,
}
QUERIES: dict[str, tuple[str, dict[str, Any]]] = {
    "overview": ("job_stats_by_version", {"window_seconds": 3600.0, "through": WATERMARK}),
    "overview (its chart)": (
        "job_finished_timeline",
        {"window_seconds": 3600.0, "bucket_seconds": 60.0, "through": WATERMARK},
    ),
    "jobs, first page": ("job_list", {**LIST, "states": None, "handler": None}),
    "jobs of one handler": ("job_list", {**LIST, "states": None, "handler": "h7"}),
    "failed jobs": ("job_list", {**LIST, "states": ["failed"], "handler": None}),
    "failed jobs of one handler": ("job_list", {**LIST, "states": ["failed"], "handler": "h0"}),
    "running jobs": ("job_list", {**LIST, "states": ["running"], "handler": None}),
    "queued jobs": ("job_list", {**LIST, "states": ["queued"], "handler": None}),
}
# --try-index: what an index for the listings of states other than succeeded would give
# (not in the schema: every job would add an entry at submit and at claim, on the hot path).
TRIAL_INDEX = """
CREATE INDEX jobsvc_jobs_unsucceeded_created_idx ON jobsvc_jobs (state, created_at DESC, id DESC)
    WHERE state <> 'succeeded'
"""


async def fill(dsn: str, jobs: int, last_hour: int) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        await PgStore(pool).migrate()
    finally:
        await pool.close()
    conn = await asyncpg.connect(dsn)
    try:
        started = time.monotonic()
        step = 100_000
        for first in range(1, jobs + 1, step):
            await conn.execute(FILL, first + 3600, HANDLERS, min(step, jobs - first + 1), 1.0)  # older than an hour
        spacing = 3590.0 / max(1, last_hour)  # and --last-hour within the last hour
        # Oldest first, so that the newest jobs are seconds old when roll_up runs, as in a busy server.
        for first in reversed(range(1, last_hour + 1, step)):
            await conn.execute(FILL, first, HANDLERS, min(step, last_hour - first + 1), spacing)
        await conn.execute(ACTIVE, HANDLERS)
        await conn.execute("VACUUM ANALYZE jobsvc_jobs")
        print(f"filled {jobs + last_hour + 1050:,} jobs in {time.monotonic() - started:.0f} s")
    finally:
        await conn.close()


def bench_server(dsn: str) -> ServerConfig:
    """The server the pages are timed on: its maintenance (and with it the roll-up) does
    not run meanwhile, so the overview reads the jobs roll_up left, --rollup-lag of them."""
    return ServerConfig(
        host="127.0.0.1", port=0, http_port=0, database_url=dsn, maintenance=MaintenanceConfig(rescue_interval=3600.0)
    )


async def roll_up(dsn: str, lag: float) -> None:
    """What every replica's maintenance does every few seconds: roll the finished jobs up
    into minutes, here the whole backlog at once (a server starting on this history would
    take it a few minutes of jobs per run), up to `lag` seconds ago: the jobs since then are
    what the overview reads one by one (5 to 20 s of them in a running server)."""
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        # `lag` seconds before the newest job (filled a while ago), as if it had just finished.
        newest = await pool.fetchval("SELECT extract(epoch FROM now() - max(finished_at))::float8 FROM jobsvc_jobs")
        store, config = PgStore(pool), RollupConfig(lag_seconds=newest + lag, max_minutes=25 * 60)
        started = time.monotonic()
        through = await store.job_finished_rollup(config)
        took = time.monotonic() - started
        minutes = await pool.fetchval("SELECT count(*) FROM jobsvc_finished_minutes")
        since = await pool.fetchval("SELECT count(*) FROM jobsvc_jobs WHERE finished_at >= $1", through)
        print(f"rolled the last day up into {minutes:,} minute rows in {took:.1f} s; {since:,} jobs finished since")
        started = time.monotonic()
        await store.job_finished_rollup(config)
        print(f"a roll-up with nothing new to count: {(time.monotonic() - started) * 1000:.1f} ms")
        # And what maintenance does next: the jobs finished more than --history-after ago
        # (an hour here, a minute by default) move to the history.
        started, moved = time.monotonic(), 0
        while True:
            step = await store.job_history_move(HISTORY_AFTER, 50_000)
            moved += step.moved
            if not step.more:
                break
        print(f"moved {moved:,} jobs finished over an hour ago to the history in {time.monotonic() - started:.1f} s")
    finally:
        await pool.close()


async def explain(dsn: str, pages: list[str] | None = None) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for page, (name, values) in QUERIES.items():
            if pages is not None and page not in pages:
                continue
            through = await conn.fetchval("SELECT through FROM jobsvc_finished_rollup")
            text, arguments = bind(name, **{k: through if v is WATERMARK else v for k, v in values.items()})
            # A prepared statement, run past the point where PostgreSQL may switch to a generic plan.
            statement = await conn.prepare(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {text}")
            for _ in range(6):
                plan = await statement.fetch(*arguments)
            print(f"\n-- {page}: {name}\n" + "\n".join(r[0] for r in plan))
    finally:
        await conn.close()


async def time_pages(base: str, runs: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        print(f"\n{'page':<28} {'median ms':>10} {'max ms':>8}  (over HTTP, {runs} runs)")
        for page, (method, body) in PAGES.items():
            took = []
            for _ in range(runs):
                started = time.perf_counter()
                response = await http.post(f"/jobsvc.v1.{method}", json=body)
                took.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
            print(f"{page:<28} {statistics.median(took):>10.1f} {max(took):>8.1f}")
        size = len(json.dumps((await http.post("/jobsvc.v1.StatsService/GetQueueStats", json={})).json()))
        print(f"(overview response: {size} bytes)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--last-hour", type=int, default=3000, help="finished jobs within the last hour")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--rollup-lag", type=float, default=20.0, help="roll up to this many seconds ago (20: the most a server leaves)"
    )
    parser.add_argument(
        "--explain-before", action="store_true", help="EXPLAIN the overview before the roll-up too (the old cost)"
    )
    parser.add_argument("--try-index", action="store_true", help="time again with TRIAL_INDEX")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jobsvc-bench-pages-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "data", fsync=False)
        await asyncio.to_thread(pg.start)
        try:
            conn = await asyncpg.connect(pg.dsn)
            await conn.execute("CREATE DATABASE pages")
            await conn.close()
            dsn = pg.dsn_for("pages")
            await fill(dsn, args.jobs, args.last_hour)
            if args.explain_before:
                print("\n== the overview before any roll-up: the hour's jobs read through jobsvc_jobs_finished_idx")
                await explain(dsn, ["overview", "overview (its chart)"])
            await roll_up(dsn, args.rollup_lag)
            server = JobsvcServer(bench_server(dsn))
            await server.start()
            try:
                await time_pages(f"http://127.0.0.1:{server.http_port}", args.runs)
            finally:
                await server.stop(1.0)
            await explain(dsn)
            if args.try_index:
                conn = await asyncpg.connect(dsn)
                await conn.execute(TRIAL_INDEX)
                await conn.execute("ANALYZE jobsvc_jobs")
                await conn.close()
                print("\n== with the trial index (state, created_at DESC, id DESC) WHERE state <> 'succeeded'")
                server = JobsvcServer(bench_server(dsn))
                await server.start()
                try:
                    await time_pages(f"http://127.0.0.1:{server.http_port}", args.runs)
                finally:
                    await server.stop(1.0)
                await explain(dsn)
        finally:
            await asyncio.to_thread(pg.stop, "immediate")


if __name__ == "__main__":
    asyncio.run(main())
