"""The benchmark harness still runs (short mode), peers included. Speed is measured by
`make bench`, never asserted here: this only proves every scenario works end to end and
that every process it starts is gone afterwards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from xml.etree import ElementTree

import pytest

from bench.processes import find_redis_server
from tests.conftest import REPO, subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# Figures every system must produce in short mode (Celery only with redis-server installed,
# the Go remote worker's only with go on PATH).
JOBSVC_FIGURES = {
    "submit_1",
    "submit_32",
    "submit_256",
    "batch_1000",
    "e2e",
    "e2e_remote",
    "redrive_ratio",
    "redrive_rate",
    "call1_p50",
    "call1_p99",
    "call64_rate",
    "call64_p99",
    "stream_1",
    "stream_64",
    "idle_xacts",
    "idle_workers_xacts",
    "mem_calls",
    "listen_calls",
    "mem_streams",
    "listen_streams",
    "scale_1",
    "scale_2",
    "scale_4",
    "wf_plain",
    "wf_fanout",
    "wf_map",
    "wf_edge_p50",
    "wf_edge_p99",
}
GO_FIGURES = {"e2e_remote_go"}
PEER_FIGURES = {"submit_1", "submit_32", "submit_256", "batch_1000", "e2e"}


def _processes_with(marker: str) -> list[int]:
    """Live processes whose environment carries marker (every process the harness starts inherits it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _run_harness(module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m module args`, which must succeed and leave no process behind (every
    process it starts inherits a marker in its environment, looked for afterwards)."""
    marker = uuid.uuid4().hex
    env = subprocess_env()
    env["JOBSVC_BENCH_SMOKE"] = marker
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-8000:]
    # Nothing the harness started outlives it (servers, workers, consumers, redis, PostgreSQL).
    assert _processes_with(f"JOBSVC_BENCH_SMOKE={marker}") == []
    return done


def test_the_benchmark_harness_runs_every_scenario_in_short_mode(tmp_path: Path) -> None:
    out, chart = tmp_path / "bench.json", tmp_path / "bench.svg"
    peers = ["pgqueuer", "procrastinate"] + (["celery"] if find_redis_server() else []) + ["bare"]
    expected = JOBSVC_FIGURES | (GO_FIGURES if shutil.which("go") else set())
    options = ["--quick", "--runs", "1", "--peers", ",".join(peers), "--json", str(out), "--chart", str(chart)]
    done = _run_harness("bench.run", *options, "--waits", "e2e", timeout=540)
    report = json.loads(out.read_text())
    rows = {row["key"]: row for row in report["comparison"]}
    assert {key for key, row in rows.items() if row.get("jobsvc")} >= expected, sorted(rows)
    for peer in peers:
        measured = {key for key, row in rows.items() if row.get(peer)}
        assert measured >= PEER_FIGURES, (peer, sorted(measured))
        assert rows["e2e"][f"x_{peer}"] is not None
    if "celery" in peers:
        assert {"call1_p50", "call64_rate"} <= {key for key, row in rows.items() if row.get("celery")}
    for key, row in rows.items():
        for system in ["jobsvc", *peers]:
            if row.get(system) and not key.startswith("idle"):
                assert row[system]["median"] > 0, (key, system, row[system])
    assert report["meta"]["peer_settings"].keys() == set(peers)
    assert "Figures: median (min-max)" in done.stdout
    assert "what busy backends waited for" in done.stdout  # --waits e2e sampled its window
    # The chart draws every figure that jobsvc and a peer both measured, jobsvc's bar first.
    drawn = ElementTree.parse(chart).getroot()
    bars = [t.text or "" for t in drawn.iter("{http://www.w3.org/2000/svg}title")]
    assert sum(bar.startswith("jobsvc: ") for bar in bars) == sum(
        1 for row in rows.values() if row.get("jobsvc") and any(row.get(p) for p in peers)
    )


def test_the_one_primary_measurement_runs_and_prints_every_figure(tmp_path: Path) -> None:
    """bench.one_primary with 1-second windows on one and on two clusters: it runs, prints
    each figure per run and its conclusions, writes them as JSON, and leaves no process."""
    out = tmp_path / "one_primary.json"
    options = ["--window", "1", "--warmup", "0.5", "--processes", "1", "--shards", "2", "--json", str(out)]
    done = _run_harness("bench.one_primary", *options, timeout=120)
    for label in ("[1 primary, 1 server process]", "[2 primaries, 1 server process each]"):
        assert label in done.stdout
    for figure in ("jobs/s", "PostgreSQL CPU per job", "server CPU per job", "statement time per job"):
        assert figure in done.stdout
    for figure in ("WAL per job", "commits/s", "WAL flushes/s", "Saturation:", "Extrapolation"):
        assert figure in done.stdout
    runs = json.loads(out.read_text())["runs"]
    assert [run["label"] for run in runs] == ["1 primary, 1 server process", "2 primaries, 1 server process each"]
    assert all(run["jobs_per_s"] > 0 and run["wal_bytes_per_job"] > 0 for run in runs)
