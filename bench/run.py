"""The jobsvc benchmark harness.

    python -m bench.run [--quick] [--json out.json] [--runs N] [--only e2e,call1]

Starts a private PostgreSQL (fsync on), then for each scenario a fresh database and a
jobsvc server in its own process (bench.serve, uvloop when available), and drives it from
this process with the asyncio client. Prints one table of median, min and max over the runs
and, with --json, writes every raw run.
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
import traceback
from collections.abc import AsyncIterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg

from bench.processes import REPO, CpuProbe, create_database, fresh_postgres, postmaster_pid, server_process
from bench.profiling import PySpyProfiler, find_py_spy
from bench.report import RunRecord, format_table, summarize, summarize_cpu, write_json
from bench.scenarios import FULL, QUICK, Context, MeasureWindow, Outcome, Scenario, Timing, scenarios
from jobsvc.client import Client
from jobsvc.store.embedded import EmbeddedPostgres

# No single run may take longer than this, whatever goes wrong.
RUN_TIMEOUT = 180.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows (about a minute in all)")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (default 3)")
    parser.add_argument("--json", type=Path, help="write every raw run to this file")
    parser.add_argument("--only", default="", help="comma-separated scenario names to run")
    parser.add_argument(
        "--e2e-concurrency", type=int, default=64, help="executor concurrency of the end-to-end and Call scenarios"
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
    parser.add_argument("--profile", default="", help="scenario whose first window py-spy samples")
    parser.add_argument(
        "--profile-out",
        type=Path,
        default=Path("/tmp/jobsvc-profile.svg"),
        help=".svg flame graph, .json speedscope, else raw collapsed stacks",
    )
    parser.add_argument("--profile-native", action="store_true", help="include C frames (py-spy --native)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def chosen_scenarios(args: argparse.Namespace) -> list[Scenario]:
    """The scenarios to run, in order."""
    sweep = [] if args.quick else [int(c) for c in args.e2e_sweep.split(",") if c.strip()]
    found = scenarios(args.e2e_concurrency, sweep, uvloop=not args.no_uvloop)
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - {s.name for s in found}
    if unknown:
        raise SystemExit(
            f"unknown scenario(s): {', '.join(sorted(unknown))}; known: {', '.join(s.name for s in found)}"
        )
    return [s for s in found if not wanted or s.name in wanted]


def measure_window(probe: CpuProbe, profiler: PySpyProfiler | None) -> MeasureWindow:
    """The context manager a scenario wraps its measurement window in."""

    @contextlib.asynccontextmanager
    async def measure() -> AsyncIterator[dict[str, float]]:
        cores: dict[str, float] = {}
        async with profiler.window() if profiler is not None else contextlib.nullcontext():
            start = probe.snapshot()
            yield cores
            cores.update(CpuProbe.cores(start, probe.snapshot()))

    return measure


def make_profiler(args: argparse.Namespace, scenario: Scenario, pid: int) -> PySpyProfiler | None:
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

    @property
    def timing(self) -> Timing:
        """Full or quick windows."""
        return QUICK if self.args.quick else FULL

    async def run_all(self) -> None:
        """Every chosen scenario, one after the other."""
        for scenario in chosen_scenarios(self.args):
            await self.run_scenario(scenario)

    async def run_scenario(self, scenario: Scenario) -> None:
        """Start the scenario's server on a fresh database and measure every run."""
        database_url = await create_database(self.pg, f"bench_{scenario.name}")
        runs = scenario.runs or self.args.runs
        print(f"\n[{scenario.name}] {scenario.title}", flush=True)
        async with (
            server_process(
                database_url,
                dataclasses.replace(scenario.server, metrics=self.args.metrics),
                self.logs / f"{scenario.name}.log",
            ) as server,
            Client(server.target) as client,
            _pool(database_url) as pool,
        ):
            probe = CpuProbe(server.pid, postmaster_pid(self.pg))
            profiler = make_profiler(self.args, scenario, server.pid)
            ctx = Context(client, pool, self.timing, measure_window(probe, profiler))
            for run in range(1, runs + 1):
                outcome = await asyncio.wait_for(scenario.run_once(ctx), RUN_TIMEOUT)
                self.records.append(RunRecord(scenario.name, run, outcome))
                print(f"  run {run}/{runs}: {_one_line(outcome)}", flush=True)
            if profiler is not None and profiler.done:
                print(f"  py-spy profile of the server (pid {server.pid}): {self.args.profile_out}", flush=True)
            errors = server.logged_errors()
            if errors:
                print(f"  WARNING: the server logged {len(errors)} error(s), the first: {errors[0]}", flush=True)


def _one_line(outcome: Outcome) -> str:
    figures = "; ".join(f"{m.name} {m.value:,.1f} {m.unit}" for m in outcome.measures)
    cpu = " ".join(f"{party} {cores:.2f}" for party, cores in outcome.cpu.items())
    errors = outcome.details.get("errors")
    return f"{figures} | cores: {cpu}" + (f" | errors {errors}" if errors else "")


@contextlib.asynccontextmanager
async def _pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
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
        "packages": {name: _version(name) for name in ("grpcio", "asyncpg", "protobuf", "uvloop")},
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


def print_summary(records: list[RunRecord], titles: dict[str, str]) -> None:
    """What each scenario does, the table of figures, then the CPU each party used."""
    if not records:
        print("\nno run completed")
        return
    print("\nScenarios:")
    for name in dict.fromkeys(r.scenario for r in records):
        print(f"  {name}: {titles.get(name, '')}")
    print("\n" + format_table(summarize(records)))
    print("\nCPU during the measurement windows (cores of 2; harness = load generator):")
    print(format_table(summarize_cpu(records)))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the exit code."""
    args = parse_args(argv)
    chosen_scenarios(args)  # unknown names fail before PostgreSQL starts
    uvloop = install_uvloop(not args.no_uvloop)
    records: list[RunRecord] = []
    code = 0
    with fresh_postgres() as pg, tempfile.TemporaryDirectory(prefix="jobsvc-bench-logs-") as logs:
        meta = describe_run(args, pg, uvloop)
        try:
            asyncio.run(Harness(pg, args, Path(logs), records).run_all())
        except KeyboardInterrupt:
            print("\ninterrupted; figures so far:", file=sys.stderr)
            code = 130
        except Exception:  # report what was measured before the failure, then fail
            traceback.print_exc()
            print("\nfailed; figures so far:", file=sys.stderr)
            code = 1
        meta["load_average_at_end"] = os.getloadavg()
    print_summary(records, meta["scenarios"])
    if args.json is not None:
        write_json(args.json, meta, records)
        print(f"\nraw runs written to {args.json}")
    return code


if __name__ == "__main__":
    sys.exit(main())
