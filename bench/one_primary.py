"""How far one PostgreSQL primary goes, and what two shards add, measured on this machine.

    python -m bench.one_primary [--window 20] [--processes 1,2] [--shards 2] [--json out.json]

Each run is the harness's end-to-end scenario (bench.scenarios.e2e_run: SubmitBatch from
producer loops in this process, in-process `noop` jobs run by the server's executor) against
a fresh database, with the server processes of bench.processes. Runs: one primary with 1,
then 2 server processes (SO_REUSEPORT, one port); with --shards N, also N PostgreSQL
clusters side by side, each with one server process and its own producers, as N shards of
one deployment would be (bench.processes.fresh_postgres, fsync on, pg_stat_statements).

Over each measurement window it reads, per cluster: jobs succeeded; CPU seconds of every
PostgreSQL process (the postmaster and its backends, /proc) and of the server processes;
statement execution time (pg_stat_statements, reset before the window, every database of
the cluster); WAL bytes (pg_current_wal_lsn before and after); commits (pg_stat_database);
WAL fsyncs (pg_stat_wal). Then it prints them per job, says what saturates, and extrapolates
to a bigger primary with its assumptions written out. Speed is measured here, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import grpc

from bench.processes import (
    CpuProbe,
    CpuSnapshot,
    ServerOptions,
    create_database,
    fresh_postgres,
    postmaster_pid,
    server_processes,
)
from bench.run import counting_pool, install_uvloop, preload_statements
from bench.scenarios import FULL, Context, e2e_run
from jobsvc.sdk import Client
from jobsvc.store.embedded import EmbeddedPostgres

CONCURRENCY = 64
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RUN_TIMEOUT = 120.0
# A connection of its own per client (grpc would otherwise share one between clients of
# one target), so that SO_REUSEPORT spreads the producers over the server processes.
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]

# Read on a connection to the cluster's `postgres` database: the reading is not counted
# against the measured database, and pg_stat_statements lives there (bench.dbstats).
COUNTERS = """
SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::float8 AS wal_bytes,
       (SELECT coalesce(sum(xact_commit), 0) FROM pg_stat_database) AS commits,
       (SELECT wal_sync FROM pg_stat_wal) AS wal_syncs,
       (SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements) AS statement_ms
"""


@dataclasses.dataclass(frozen=True)
class Counters:
    """One cluster's cumulative counters at one moment."""

    wal_bytes: float  # the WAL position (pg_current_wal_lsn) in bytes
    commits: float
    wal_syncs: float
    statement_ms: float
    cpu: CpuSnapshot
    machine_busy: float  # CPU seconds every process on the machine used so far (/proc/stat)


@dataclasses.dataclass
class ClusterWindow:
    """What one cluster (its PostgreSQL and its server processes) did over one window."""

    jobs: int = 0
    seconds: float = 0.0
    postgres_cpu: float = 0.0
    server_cpu: float = 0.0
    harness_cpu: float = 0.0
    statement_ms: float = 0.0
    wal_bytes: float = 0.0
    commits: float = 0.0
    wal_syncs: float = 0.0
    machine_cpu: float = 0.0


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (not idle, not waiting for I/O) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / CLOCK_TICKS


class ClusterProbe:
    """Reads one cluster's counters around a window: the `measure` of a bench Context."""

    def __init__(self, admin: asyncpg.Connection, cpu: CpuProbe) -> None:
        self._admin = admin
        self._cpu = cpu
        self.window = ClusterWindow()

    async def _read(self) -> Counters:
        row = await self._admin.fetchrow(COUNTERS)
        assert row is not None
        return Counters(
            float(row["wal_bytes"]),
            float(row["commits"]),
            float(row["wal_syncs"]),
            float(row["statement_ms"]),
            self._cpu.snapshot(),
            machine_busy_seconds(),
        )

    @contextlib.asynccontextmanager
    async def measure(self) -> AsyncIterator[dict[str, float]]:
        """Reset pg_stat_statements, read the counters, run the window, read them again."""
        await self._admin.execute("SELECT pg_stat_statements_reset()")
        # pg_stat_database and pg_stat_wal lag by up to a second (backends flush their
        # counts at most that often); the window is long enough for that not to matter.
        start = await self._read()
        cores: dict[str, float] = {}
        yield cores
        end = await self._read()
        seconds = end.cpu.wall - start.cpu.wall
        used = {party: end.cpu.seconds[party] - start.cpu.seconds.get(party, 0.0) for party in end.cpu.seconds}
        cores.update({party: cpu / seconds for party, cpu in used.items()})
        self.window = ClusterWindow(
            seconds=seconds,
            postgres_cpu=used["postgres"],
            server_cpu=used["server"],
            harness_cpu=used["harness"],
            statement_ms=end.statement_ms,  # reset at the start
            wal_bytes=end.wal_bytes - start.wal_bytes,
            commits=end.commits - start.commits,
            wal_syncs=end.wal_syncs - start.wal_syncs,
            machine_cpu=end.machine_busy - start.machine_busy,
        )


@dataclasses.dataclass
class Run:
    """One measured configuration: its clusters' windows summed."""

    label: str
    clusters: int
    processes: int
    windows: list[ClusterWindow]

    def total(self, name: str) -> float:
        """A field summed over the clusters."""
        return float(sum(getattr(w, name) for w in self.windows))

    @property
    def seconds(self) -> float:
        """The window's length (the clusters' windows run side by side)."""
        return max(w.seconds for w in self.windows)

    @property
    def jobs_per_second(self) -> float:
        """Jobs succeeded per second, all clusters together."""
        return self.total("jobs") / self.seconds

    def per_job(self, name: str) -> float:
        """A field summed over the clusters, per job succeeded."""
        return self.total(name) / max(self.total("jobs"), 1.0)

    def figures(self) -> dict[str, float]:
        """The run's figures, per job and per second."""
        figures = {
            "jobs_per_s": self.jobs_per_second,
            "postgres_cpu_ms_per_job": 1000 * self.per_job("postgres_cpu"),
            "server_cpu_ms_per_job": 1000 * self.per_job("server_cpu"),
            # The producer is this one process, read once per cluster.
            "harness_cpu_ms_per_job": 1000 * self.per_job("harness_cpu") / self.clusters,
            "statement_ms_per_job": self.per_job("statement_ms"),
            "wal_bytes_per_job": self.per_job("wal_bytes"),
            "commits_per_s": self.total("commits") / self.seconds,
            "commits_per_job": self.per_job("commits"),
            "wal_fsyncs_per_s": self.total("wal_syncs") / self.seconds,
            "postgres_cores": self.total("postgres_cpu") / self.seconds,
            "server_cores": self.total("server_cpu") / self.seconds,
            "harness_cores": self.total("harness_cpu") / self.clusters / self.seconds,
            "machine_cores": self.total("machine_cpu") / self.clusters / self.seconds,
        }
        figures["other_cores"] = max(
            0.0,
            figures["machine_cores"] - figures["postgres_cores"] - figures["server_cores"] - figures["harness_cores"],
        )
        return figures


@contextlib.asynccontextmanager
async def cluster(
    pg: EmbeddedPostgres, name: str, processes: int, logs: Path, args: argparse.Namespace
) -> AsyncIterator[tuple[Context, ClusterProbe]]:
    """A fresh database on pg, `processes` servers on it, and a bench Context whose window the probe measures."""
    database_url = await create_database(pg, name)
    options = ServerOptions(concurrency=CONCURRENCY, processes=processes)
    async with contextlib.AsyncExitStack() as stack:
        servers = await stack.enter_async_context(server_processes(database_url, options, logs, name))
        target = servers[0].target
        clients = [
            await stack.enter_async_context(
                Client(target, channel=grpc.aio.insecure_channel(target, options=OWN_CONNECTION))
            )
            for _ in servers
        ]
        pool = await stack.enter_async_context(counting_pool(database_url))
        admin = await asyncpg.connect(pg.dsn, command_timeout=30)
        stack.push_async_callback(admin.close)
        probe = ClusterProbe(admin, CpuProbe({"server": [s.pid for s in servers]}, postmaster_pid(pg)))
        timing = dataclasses.replace(FULL, e2e_window=args.window, e2e_warmup=args.warmup)
        yield Context(clients[0], pool, timing, probe.measure, servers=servers, clients=clients, logs=logs), probe


async def measure(pgs: Sequence[EmbeddedPostgres], processes: int, args: argparse.Namespace, logs: Path) -> Run:
    """One run: a fresh database and `processes` servers on each cluster, their windows side by side."""
    clusters = len(pgs)
    label = (
        f"{clusters} primar{'ies' if clusters > 1 else 'y'}, {processes} server process{'es' if processes > 1 else ''}"
    )
    label += " each" if clusters > 1 else ""
    name = f"one_primary_{clusters}x{processes}_{int(time.time())}"
    async with contextlib.AsyncExitStack() as stack:
        # A name per cluster: the servers' log files share one directory.
        found = [
            await stack.enter_async_context(cluster(pg, f"{name}_{index}", processes, logs, args))
            for index, pg in enumerate(pgs, 1)
        ]
        run_once = e2e_run(CONCURRENCY)
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(run_once(ctx) for ctx, _probe in found)), RUN_TIMEOUT + args.window
        )
    windows = []
    for outcome, (_ctx, probe) in zip(outcomes, found, strict=True):
        probe.window.jobs = int(outcome.details["completed"])
        windows.append(probe.window)
    return Run(label, clusters, processes, windows)


def print_run(run: Run) -> None:
    """The run's figures, one a line."""
    f = run.figures()
    rows = [
        ("jobs/s", f"{f['jobs_per_s']:10,.0f}"),
        ("PostgreSQL CPU per job", f"{f['postgres_cpu_ms_per_job']:10.3f} ms  ({f['postgres_cores']:.2f} cores)"),
        ("server CPU per job", f"{f['server_cpu_ms_per_job']:10.3f} ms  ({f['server_cores']:.2f} cores)"),
        ("producer (this process) CPU", f"{f['harness_cpu_ms_per_job']:10.3f} ms  ({f['harness_cores']:.2f} cores)"),
        ("statement time per job", f"{f['statement_ms_per_job']:10.3f} ms  (pg_stat_statements)"),
        ("WAL per job", f"{f['wal_bytes_per_job']:10,.0f} bytes"),
        ("commits/s", f"{f['commits_per_s']:10,.0f}     ({f['commits_per_job']:.3f} per job)"),
        ("WAL flushes/s", f"{f['wal_fsyncs_per_s']:10,.0f}"),
        ("whole machine busy", f"{f['machine_cores']:10.2f} cores (other work included)"),
        ("other work on the machine", f"{f['other_cores']:10.2f} cores (busy less the parties above)"),
    ]
    print(f"\n[{run.label}] {run.total('jobs'):.0f} jobs in {run.seconds:.1f} s")
    print("\n".join(f"  {name:<30}{value}" for name, value in rows), flush=True)


def conclusions(runs: list[Run], cores: int) -> list[str]:
    """What saturates, and the extrapolation to a bigger primary, from the single-primary runs."""
    single = [r for r in runs if r.clusters == 1]
    if not single:
        return []
    best = max(single, key=lambda r: r.jobs_per_second)
    f = best.figures()
    busy = f["postgres_cores"] + f["server_cores"] + f["harness_cores"]
    pg_share = f["postgres_cores"] / max(busy, 1e-9)
    per_pg_core = 1000 / max(f["postgres_cpu_ms_per_job"], 1e-9)
    per_server_core = 1000 / max(f["server_cpu_ms_per_job"], 1e-9)
    wal_mb_per_core = per_pg_core * f["wal_bytes_per_job"] / 1e6
    lines = [
        f"Best single primary: {best.label}, {f['jobs_per_s']:,.0f} jobs/s.",
        f"Saturation: the measured parties used {busy:.2f} of {cores} cores "
        f"(PostgreSQL {f['postgres_cores']:.2f}, servers {f['server_cores']:.2f}, producer {f['harness_cores']:.2f}; "
        f"the whole machine {f['machine_cores']:.2f}, other work included): {saturation(best, cores)}",
        f"PostgreSQL's share of that CPU: {100 * pg_share:.0f}%.",
        "Extrapolation (assumptions: the servers and producers run on other machines, so the primary's cores "
        "run PostgreSQL alone; PostgreSQL's CPU per job stays as measured here, i.e. no new lock, buffer or "
        "WAL-insert contention at higher core counts, which is optimistic; the disk's WAL flushes are grouped "
        "as here, several commits to one flush):",
        f"  CPU: {per_pg_core:,.0f} jobs/s per primary core "
        f"({f['postgres_cpu_ms_per_job']:.3f} ms of PostgreSQL CPU per job): at most "
        f"{8 * per_pg_core:,.0f} jobs/s on 8 cores, {16 * per_pg_core:,.0f} on 16;",
        f"  WAL volume: {f['wal_bytes_per_job']:,.0f} bytes per job, so {wal_mb_per_core:.0f} MB/s per core at that "
        f"rate: {8 * wal_mb_per_core:.0f} MB/s on 8 cores, {16 * wal_mb_per_core:.0f} MB/s on 16. The disk, every "
        "standby's replay and the network to it must carry that: a network volume capped at 125-250 MB/s binds "
        "before 16 cores do;",
        f"  fsync: {f['commits_per_job']:.3f} commits per job (batched claims, settles and SubmitBatch), "
        f"{f['commits_per_s'] / max(f['wal_fsyncs_per_s'], 1e-9):.1f} commits per WAL flush here "
        f"({f['wal_fsyncs_per_s']:,.0f} flushes/s). With synchronous_commit on each commit waits for its flush; "
        "a disk of 1 ms flushes allows about 1,000 flushes/s, so throughput holds only while enough commits "
        "share each flush (group commit does this by itself as commits queue): slow flushes cost latency first, "
        "then throughput once one flush's commits cannot fill the gap;",
        f"  servers: {f['server_cpu_ms_per_job']:.3f} ms of server CPU per job ({per_server_core:,.0f} jobs/s per "
        f"server core), about {per_pg_core / per_server_core:.1f} server cores per primary core: "
        "servers are stateless, add replicas.",
    ]
    return lines


def saturation(run: Run, cores: int) -> str:
    """Which resource binds a run, in a sentence."""
    f = run.figures()
    per_process = f["server_cores"] / (run.processes * run.clusters)
    if f["machine_cores"] >= 0.85 * cores:
        return "the CPU is the limit, shared between PostgreSQL and the Python processes."
    if per_process >= 0.85:
        return "each server process is near one core (Python runs one thread at a time): add processes."
    return "the CPU is not all used: something else binds (waits, fsync, the producer)."


def compare_shards(runs: list[Run]) -> list[str]:
    """The shard runs against the single-primary run with the same processes per cluster."""
    lines = []
    for run in runs:
        if run.clusters == 1:
            continue
        single = next((r for r in runs if r.clusters == 1 and r.processes == run.processes), None)
        if single is None:
            continue
        ratio = run.jobs_per_second / max(single.jobs_per_second, 1e-9)
        lines.append(
            f"{run.label}: {run.jobs_per_second:,.0f} jobs/s together, {ratio:.2f}x one primary's "
            f"{single.jobs_per_second:,.0f} with the same processes per primary; "
            f"{saturation(run, os.cpu_count() or 1)} "
            "Here the shards share one machine's cores: shards add capacity only with cores (and disks) of their own."
        )
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.one_primary", description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured per run (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before each window (default 3)")
    parser.add_argument(
        "--processes", default="1,2", help="server processes on the one primary, one run each (default 1,2)"
    )
    parser.add_argument(
        "--shards", type=int, default=1, help="with N > 1, also a run on N clusters, one server process each"
    )
    parser.add_argument("--json", type=Path, help="write every run's figures to this file")
    parser.add_argument("--no-uvloop", action="store_true", help="default asyncio loop in this process")
    args = parser.parse_args(argv)
    args.processes = [int(p) for p in args.processes.split(",") if p.strip()]
    if args.shards < 1 or any(p < 1 for p in args.processes):
        parser.error("--shards and --processes must be at least 1")
    return args


async def run_all(pgs: list[EmbeddedPostgres], args: argparse.Namespace, logs: Path) -> list[Run]:
    """Every configuration in turn, printed as it completes."""
    runs = []
    for processes in args.processes:
        runs.append(await measure(pgs[:1], processes, args, logs))
        print_run(runs[-1])
    if args.shards > 1:
        runs.append(await measure(pgs, 1, args, logs))
        print_run(runs[-1])
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the exit code."""
    args = parse_args(argv)
    install_uvloop(not args.no_uvloop)
    cores = os.cpu_count() or 1
    print(f"{cores} cores; load average at start {os.getloadavg()[0]:.2f}", flush=True)
    with contextlib.ExitStack() as stack:
        pgs = [stack.enter_context(fresh_postgres()) for _ in range(args.shards)]
        for pg in pgs:
            if not preload_statements(pg):
                raise SystemExit("pg_stat_statements is needed (statement time per job)")
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jobsvc-one-primary-")))
        runs = asyncio.run(run_all(pgs, args, logs))
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    print("\n" + "\n".join([*conclusions(runs, cores), *compare_shards(runs)]))
    if args.json is not None:
        document: dict[str, Any] = {"cores": cores, "runs": [{"label": r.label, **r.figures()} for r in runs]}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
