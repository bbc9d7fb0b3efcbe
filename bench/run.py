"""The jobsvc benchmark harness, with the peers in the same run.

    python -m bench.run [--quick] [--json out.json] [--runs N] [--only e2e,call1,pgqueuer] [--peers celery]

Starts a private PostgreSQL (fsync on, pg_stat_statements preloaded), then for each scenario
a fresh database and either jobsvc server process(es) (bench.serve, uvloop when available,
plus remote workers where the scenario has them: `jobsvc worker` processes, or the Go
clients/go/cmd/bench-worker built with `go build`) driven from this process with the
asyncio client, or a peer (pgqueuer, procrastinate, Celery on a private redis-server, and
`bare`, a plain SKIP LOCKED queue as a ceiling) whose consumer runs in its own process(es).
Prints one comparison table
(median and min-max over the runs, jobsvc's ratio to each peer, the issue's target), the
details, and the CPU each party used; --json writes every raw run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg
import grpc

from bench import chart
from bench.dbstats import db_stats, enable_statements
from bench.figures import comparison_rows, format_comparison
from bench.peers import PeerEnv, sessions
from bench.peers.scenarios import PeerContext, PeerScenario, peer_scenarios
from bench.processes import (
    REPO,
    CpuProbe,
    ServerOptions,
    build_go_worker,
    create_database,
    find_go,
    find_redis_server,
    fresh_postgres,
    go_workers,
    jobsvc_workers,
    postmaster_pid,
    server_processes,
)
from bench.profiling import PySpyProfiler, find_py_spy
from bench.report import RunRecord, format_table, results, summarize, summarize_cpu, write_json
from bench.scenarios import FULL, QUICK, Context, MeasureWindow, Outcome, Scenario, Timing, scenarios, wait_online
from bench.waits import WaitSampler
from jobsvc.sdk import Client
from jobsvc.store.embedded import EmbeddedPostgres

PEERS = ("pgqueuer", "procrastinate", "celery", "bare")
AnyScenario = Scenario | PeerScenario

# No single run may take longer than this, whatever goes wrong (unless its scenario says).
RUN_TIMEOUT = 180.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows (about a minute in all)")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (default 3)")
    parser.add_argument("--json", type=Path, help="write every raw run to this file")
    parser.add_argument("--chart", type=Path, help="draw the comparison to this SVG file (see bench/chart.py)")
    parser.add_argument(
        "--only", default="", help="comma-separated scenario names, or systems (jobsvc, pgqueuer, ...), to run"
    )
    parser.add_argument(
        "--peers", default=",".join(PEERS), help=f"comma-separated peers to run beside jobsvc (default {PEERS})"
    )
    parser.add_argument(
        "--e2e-concurrency", type=int, default=64, help="executor concurrency of the end-to-end and Call scenarios"
    )
    parser.add_argument(
        "--claim-batch",
        type=int,
        default=ServerOptions.claim_batch,
        help="jobs one claim takes at most, in every jobsvc server process (the executor's --claim-batch)",
    )
    parser.add_argument(
        "--e2e-sweep",
        default="16,128,256",
        help="other executor concurrencies tried end-to-end, one run each ('' for none; skipped with --quick)",
    )
    parser.add_argument("--no-uvloop", action="store_true", help="default asyncio loop in both processes")
    parser.add_argument(
        "--metrics", action="store_true", help="servers record Prometheus metrics (to measure their cost)"
    )
    parser.add_argument(
        "--statements",
        type=int,
        default=0,
        metavar="N",
        help="after each jobsvc scenario, print its N costliest statements (pg_stat_statements)",
    )
    parser.add_argument("--profile", default="", help="scenario whose first window py-spy samples")
    parser.add_argument(
        "--profile-out",
        type=Path,
        default=Path("/tmp/jobsvc-profile.svg"),
        help=".svg flame graph, .json speedscope, else raw collapsed stacks",
    )
    parser.add_argument("--profile-native", action="store_true", help="include C frames (py-spy --native)")
    parser.add_argument(
        "--waits", default="", help="scenario whose windows sample what the database waits for (bench/waits.py)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def chosen_peers(args: argparse.Namespace) -> list[str]:
    """The peers to run: --peers, less Celery when redis-server is not installed."""
    peers = [name.strip() for name in args.peers.split(",") if name.strip()]
    unknown = set(peers) - set(PEERS)
    if unknown:
        raise SystemExit(f"unknown peer(s): {', '.join(sorted(unknown))}; known: {', '.join(PEERS)}")
    if "celery" in peers and find_redis_server() is None:
        print("redis-server not found (scripts/system-deps installs it): skipping Celery", file=sys.stderr)
        peers.remove("celery")
    return peers


def chosen_scenarios(args: argparse.Namespace) -> list[AnyScenario]:
    """The scenarios to run, in order."""
    sweep = [] if args.quick else [int(c) for c in args.e2e_sweep.split(",") if c.strip()]
    found: list[AnyScenario] = [*scenarios(args.e2e_concurrency, sweep, uvloop=not args.no_uvloop)]
    found += peer_scenarios(chosen_peers(args))
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - {s.name for s in found} - {s.system for s in found}
    if unknown:
        raise SystemExit(
            f"unknown scenario(s): {', '.join(sorted(unknown))}; known: {', '.join(s.name for s in found)}"
        )
    return [s for s in found if not wanted or s.name in wanted or s.system in wanted]


def measure_window(probe: CpuProbe, profiler: PySpyProfiler | None, waits: WaitSampler | None = None) -> MeasureWindow:
    """The context manager a scenario wraps its measurement window in."""

    @contextlib.asynccontextmanager
    async def measure() -> AsyncIterator[dict[str, float]]:
        cores: dict[str, float] = {}
        async with (
            profiler.window() if profiler is not None else contextlib.nullcontext(),
            waits.window() if waits is not None else contextlib.nullcontext(),
        ):
            start = probe.snapshot()
            yield cores
            cores.update(CpuProbe.cores(start, probe.snapshot()))

    return measure


def make_profiler(args: argparse.Namespace, scenario: AnyScenario, pid: int) -> PySpyProfiler | None:
    """A py-spy profiler when this scenario is the one to profile."""
    if args.profile != scenario.name:
        return None
    executable = find_py_spy()
    if executable is None:
        print("py-spy not found (pip install py-spy); not profiling", file=sys.stderr)
        return None
    return PySpyProfiler(executable, pid, args.profile_out, native=args.profile_native)


@dataclasses.dataclass
class Harness:
    """One benchmark session: a PostgreSQL, the options, and the runs measured so far."""

    pg: EmbeddedPostgres
    args: argparse.Namespace
    logs: Path
    records: list[RunRecord]
    statements: bool = False
    peer_settings: dict[str, str] = dataclasses.field(default_factory=dict)
    failed: list[str] = dataclasses.field(default_factory=list)
    # The Go remote worker's executable, built on first use.
    go_worker: Path | None = None

    @property
    def timing(self) -> Timing:
        """Full or quick windows."""
        return QUICK if self.args.quick else FULL

    async def run_all(self) -> None:
        """Every chosen scenario, one after the other."""
        for scenario in chosen_scenarios(self.args):
            try:
                await self.run_scenario(scenario)
            except Exception:  # the others still run; the harness fails at the end
                traceback.print_exc()
                print(f"  FAILED: {scenario.name}", flush=True)
                self.failed.append(scenario.name)
        if self.failed:
            raise RuntimeError(f"scenario(s) failed: {', '.join(self.failed)}")

    async def run_scenario(self, scenario: AnyScenario) -> None:
        """A fresh database, the scenario's processes, and every run measured."""
        print(f"\n[{scenario.name}] {scenario.title}", flush=True)
        started = time.perf_counter()
        if isinstance(scenario, Scenario) and scenario.server.worker_kind == "go" and self.go_worker is None:
            if find_go() is None:
                print("  SKIPPED: go is not on PATH (the Go remote worker needs a Go toolchain)", flush=True)
                return
            self.go_worker = await build_go_worker(self.logs)
            print(f"  built {self.go_worker} in {time.perf_counter() - started:.1f} s", flush=True)
        database = f"bench_{scenario.name}"
        database_url = await create_database(self.pg, database)
        runs = scenario.runs or self.args.runs
        if isinstance(scenario, PeerScenario):
            await self._run_peer(scenario, database_url, runs)
        else:
            await self._run_jobsvc(scenario, database, database_url, runs)
        print(f"  ({time.perf_counter() - started:.1f} s with start and stop)", flush=True)

    async def _run_jobsvc(self, scenario: Scenario, database: str, database_url: str, runs: int) -> None:
        if not scenario.fresh_server_per_run:
            await self._run_jobsvc_runs(scenario, database, database_url, range(1, runs + 1), runs)
            return
        for run in range(1, runs + 1):
            if run > 1:
                database = f"bench_{scenario.name}_{run}"
                database_url = await create_database(self.pg, database)
            await self._run_jobsvc_runs(scenario, database, database_url, range(run, run + 1), runs)

    async def _run_jobsvc_runs(
        self, scenario: Scenario, database: str, database_url: str, run_numbers: range, runs: int
    ) -> None:
        options = dataclasses.replace(scenario.server, metrics=self.args.metrics, claim_batch=self.args.claim_batch)
        async with contextlib.AsyncExitStack() as stack:
            servers = await stack.enter_async_context(server_processes(database_url, options, self.logs, scenario.name))
            target = servers[0].target
            client = await stack.enter_async_context(Client(target))
            # One connection per server process (a local subchannel pool, or grpc would share one).
            clients = [
                await stack.enter_async_context(
                    Client(target, channel=grpc.aio.insecure_channel(target, options=_OWN_CONNECTION))
                )
                for _ in servers
            ]
            pool = await stack.enter_async_context(counting_pool(database_url))
            stats = await stack.enter_async_context(db_stats(self.pg.dsn, database, self.statements))
            workers = []
            if options.workers:
                workers = await stack.enter_async_context(self._remote_workers(options, target, scenario.name))
                await wait_online(client, "noop_remote")
            parties = {"server": [s.pid for s in servers], "workers": [w.pid for w in workers]}
            probe = CpuProbe(parties, postmaster_pid(self.pg))
            profiler = make_profiler(self.args, scenario, servers[0].pid)
            waits = WaitSampler(self.pg.dsn, database) if self.args.waits == scenario.name else None
            ctx = Context(
                client,
                pool,
                self.timing,
                measure_window(probe, profiler, waits),
                servers=servers,
                clients=clients,
                stats=stats,
                logs=self.logs,
            )
            for run in run_numbers:
                outcome = await asyncio.wait_for(scenario.run_once(ctx), scenario.run_timeout or RUN_TIMEOUT)
                self.records.append(RunRecord(scenario.name, run, outcome))
                print(f"  run {run}/{runs}: {_one_line(outcome)}", flush=True)
            if self.args.statements and self.statements:
                print_statements(await stats.top_statements(self.args.statements))
            if waits is not None:
                waits.print()
            if profiler is not None and profiler.done:
                print(f"  py-spy profile of the server (pid {servers[0].pid}): {self.args.profile_out}", flush=True)
            for server in servers:
                errors = server.logged_errors()
                if errors:
                    print(f"  WARNING: server {server.pid} logged {len(errors)} error(s), the first: {errors[0]}")

    def _remote_workers(
        self, options: ServerOptions, target: str, name: str
    ) -> contextlib.AbstractAsyncContextManager[list[asyncio.subprocess.Process]]:
        """The scenario's remote worker processes: `jobsvc worker`, or the Go bench-worker."""
        if options.worker_kind == "go":
            assert self.go_worker is not None, "built in run_scenario"
            log_prefix = self.logs / f"{name}.go-worker"
            return go_workers(self.go_worker, target, options.workers, options.worker_concurrency, log_prefix)
        return jobsvc_workers(target, options.workers, options.worker_concurrency, self.logs, name)

    async def _run_peer(self, scenario: PeerScenario, database_url: str, runs: int) -> None:
        env = PeerEnv(database_url, self.logs, self.args.quick)
        async with sessions()[scenario.peer](env) as peer:
            self.peer_settings[peer.name] = peer.settings
            parties: dict[str, list[int]] = {"broker": list(peer.broker_pids)}
            probe = CpuProbe(parties, postmaster_pid(self.pg))
            ctx = PeerContext(peer, self.timing, measure_window(probe, None), parties)
            for run in range(1, runs + 1):
                outcome = await asyncio.wait_for(scenario.run_once(ctx), RUN_TIMEOUT)
                self.records.append(RunRecord(scenario.name, run, outcome, scenario.system))
                print(f"  run {run}/{runs}: {_one_line(outcome)}", flush=True)


_OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


def print_statements(rows: list[tuple[float, int, float, str]]) -> None:
    """The costliest statements of a scenario (its database is its own, runs and warm-up included)."""
    print("  costliest statements: total ms, calls, mean ms, query", flush=True)
    for total, calls, mean, query in rows:
        text = " ".join(query.split())
        print(f"  {total:10.0f} {calls:9d} {mean:8.3f}  {text[:150]}", flush=True)


def _one_line(outcome: Outcome) -> str:
    figures = "; ".join(f"{m.name} {m.value:,.1f} {m.unit}" for m in outcome.measures)
    cpu = " ".join(f"{party} {cores:.2f}" for party, cores in outcome.cpu.items())
    errors = outcome.details.get("errors")
    return f"{figures} | cores: {cpu}" + (f" | errors {errors}" if errors else "")


@contextlib.asynccontextmanager
async def counting_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Two connections on the scenario's database, for counting jobs."""
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=2, command_timeout=30)
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


def install_uvloop(enabled: bool) -> bool:
    """Use uvloop in this process when asked and installed; whether it is in use."""
    if not enabled:
        return False
    try:
        import uvloop
    except ImportError:
        return False
    uvloop.install()
    return True


def describe_run(args: argparse.Namespace, pg: EmbeddedPostgres, uvloop: bool) -> dict[str, Any]:
    """What the figures were measured on, for the JSON file."""
    timing = QUICK if args.quick else FULL
    return {
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "timing": dataclasses.asdict(timing),
        "scenarios": {s.name: s.title for s in chosen_scenarios(args)},
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "uvloop": uvloop,
        "postgres_bin": str(pg.bin_dir),
        "postgres_fsync": pg.fsync,
        "packages": {
            name: _version(name)
            for name in ("grpcio", "asyncpg", "protobuf", "uvloop", "pgqueuer", "procrastinate", "celery", "redis")
        },
        "redis_server": find_redis_server(),
        "commit": _git_commit(),
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """HEAD of the work tree (read only), plus '+dirty' when files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if status.strip() else "")


def print_summary(records: list[RunRecord], titles: dict[str, str], peer_settings: dict[str, str]) -> None:
    """What each scenario does, the comparison table, the details, then the CPU each party used."""
    if not records:
        print("\nno run completed")
        return
    print("\nScenarios:")
    for name in dict.fromkeys(r.scenario for r in records):
        print(f"  {name}: {titles.get(name, '')}")
    if peer_settings:
        print("\nPeer settings:")
        for name, settings in peer_settings.items():
            print(f"  {name}: {settings}")
    runs = sorted({r.run for r in records})
    print(
        f"\nFigures: median (min-max) over {len(runs)} run(s); 'x peer' = how many times better jobsvc is "
        "(rates: jobsvc/peer; latencies, idle load, memory: peer/jobsvc)\n"
    )
    print(format_comparison(records))
    print("\nDetails:\n" + format_table(summarize(records)))
    print(f"\nCPU during the measurement windows (cores of {os.cpu_count()}; harness = load generator):")
    print(format_table(summarize_cpu(records)))


def preload_statements(pg: EmbeddedPostgres) -> bool:
    """Restart the private PostgreSQL with pg_stat_statements preloaded; whether it is usable."""
    try:
        asyncio.run(_alter_system(pg.dsn))
        pg.restart("fast")
        return asyncio.run(enable_statements(pg.dsn))
    except Exception as exc:  # the idle figures then count transactions only
        print(f"pg_stat_statements unavailable ({exc}); idle load counts transactions only", file=sys.stderr)
        return False


async def _alter_system(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    finally:
        await conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the exit code."""
    args = parse_args(argv)
    chosen_scenarios(args)  # unknown names fail before PostgreSQL starts
    uvloop = install_uvloop(not args.no_uvloop)
    records: list[RunRecord] = []
    peer_settings: dict[str, str] = {}
    code = 0
    with fresh_postgres() as pg, tempfile.TemporaryDirectory(prefix="jobsvc-bench-logs-") as logs:
        statements = preload_statements(pg)
        meta = describe_run(args, pg, uvloop)
        meta["pg_stat_statements"] = statements
        try:
            harness = Harness(pg, args, Path(logs), records, statements, peer_settings)
            asyncio.run(harness.run_all())
        except KeyboardInterrupt:
            print("\ninterrupted; figures so far:", file=sys.stderr)
            code = 130
        except Exception:  # report what was measured before the failure, then fail
            traceback.print_exc()
            print("\nfailed; figures so far:", file=sys.stderr)
            code = 1
        meta["load_average_at_end"] = os.getloadavg()
    meta["peer_settings"] = peer_settings
    print_summary(records, meta["scenarios"], peer_settings)
    document = results(meta, records, comparison_rows(records))
    if args.json is not None:
        write_json(args.json, document)
        print(f"\nraw runs written to {args.json}")
    if args.chart is not None:
        chart.write(args.chart, document)
        print(f"comparison chart written to {args.chart}")
    return code


if __name__ == "__main__":
    sys.exit(main())
