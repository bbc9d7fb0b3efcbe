"""The comparison table: one row per figure, jobsvc beside each peer, and its target (issue 13).

A cell is `median (min-max)` over the runs. The ratio column beside a peer is how many times
better jobsvc is: jobsvc / peer for rates, peer / jobsvc for latencies (so > 1 always means
jobsvc is ahead).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.report import RunRecord, _number

SYSTEMS = ("jobsvc", "pgqueuer", "procrastinate", "celery", "bare")


@dataclass(frozen=True)
class Figure:
    """A row of the comparison table."""

    key: str
    label: str
    unit: str
    target: str = ""
    lower_is_better: bool = False


FIGURES = (
    Figure("submit_1", "Submit / enqueue one job, 1 caller", "jobs/s"),
    Figure("submit_1_p50", "Submit / enqueue one job, 1 caller: p50", "ms", "<= 1", lower_is_better=True),
    Figure("submit_32", "Submit / enqueue one job, 32 callers", "jobs/s", ">= 1.5x pgqueuer"),
    Figure("submit_256", "Submit / enqueue one job, 256 callers", "jobs/s"),
    Figure("batch_1000", "SubmitBatch / batch enqueue of 1,000", "jobs/s", ">= 1x pgqueuer"),
    Figure("e2e", "End-to-end, in-process executors, no-op", "jobs/s", ">= 2x pgqueuer, >= 0.4x bare"),
    Figure("e2e_remote", "End-to-end, remote Python workers", "jobs/s", ">= 1x pgqueuer e2e"),
    Figure("e2e_remote_go", "End-to-end, 1 remote Go worker", "jobs/s", ">= 1.5x pgqueuer e2e"),
    Figure(
        "e2e_flow",
        "End-to-end, concurrency + rate limit set, not binding",
        "jobs/s",
        ">= 0.9x end-to-end",
    ),
    Figure("redrive_ratio", "End-to-end during a bulk redrive of 100,000 dead jobs / alone", "ratio", ">= 0.8"),
    Figure("redrive_rate", "Bulk redrive of 100,000 dead jobs beside the end-to-end load", "jobs/s"),
    Figure("call1_p50", "Call, 1 caller: p50", "ms", "<= 2, >= 2x better than Celery", lower_is_better=True),
    Figure("call1_p99", "Call, 1 caller: p99", "ms", "<= 5", lower_is_better=True),
    Figure("call1_rate", "Call, 1 caller", "calls/s"),
    Figure("call64_rate", "Call, 64 callers", "calls/s", ">= 3,000"),
    Figure("call64_p50", "Call, 64 callers: p50", "ms", lower_is_better=True),
    Figure("call64_p99", "Call, 64 callers: p99", "ms", "<= 60", lower_is_better=True),
    Figure("stream_1", "Stream, 1 stream", "events/s", ">= 20,000"),
    Figure("stream_64", "Stream, 64 streams", "events/s"),
    Figure("idle_queries", "Idle, no work: statements per replica", "queries/s", "<= 0.75", lower_is_better=True),
    Figure("idle_xacts", "Idle, no work: transactions per replica", "xacts/s", lower_is_better=True),
    Figure("idle_workers_queries", "Idle, 100 remote workers: statements", "queries/s", lower_is_better=True),
    Figure("idle_workers_xacts", "Idle, 100 remote workers: transactions", "xacts/s", lower_is_better=True),
    Figure("mem_calls", "Server RSS, 10,000 Calls waiting", "MiB", "<= 347", lower_is_better=True),
    Figure("listen_calls", "LISTEN connections, Calls waiting", "per process", "1", lower_is_better=True),
    Figure("mem_streams", "Server RSS, 1,000 open streams", "MiB", lower_is_better=True),
    Figure("listen_streams", "LISTEN connections, open streams", "per process", "1", lower_is_better=True),
    Figure("wf_plain", "Plain jobs beside the workflows, 10,000 (SubmitBatch)", "jobs/s"),
    Figure("wf_fanout", "Workflow fan-out/fan-in, 10,000 steps", "steps/s"),
    Figure("wf_map", "Workflow fan-out/fan-in by a mapped step, 10,000 steps", "steps/s"),
    Figure("wf_edge_p50", "One dependency edge (parent finished to child started): p50", "ms", lower_is_better=True),
    Figure("wf_edge_p99", "One dependency edge (parent finished to child started): p99", "ms", lower_is_better=True),
    Figure("scale_1", "End-to-end, 1 server process", "jobs/s"),
    Figure("scale_2", "End-to-end, 2 server processes", "jobs/s"),
    Figure("scale_4", "End-to-end, 4 server processes", "jobs/s"),
)


@dataclass(frozen=True)
class Cell:
    """A figure of one system over its runs."""

    median: float
    min: float
    max: float
    runs: int

    def text(self) -> str:
        if self.runs == 1 or self.min == self.max:
            return _number(self.median)
        return f"{_number(self.median)} ({_number(self.min)}-{_number(self.max)})"


def cells(records: Sequence[RunRecord]) -> dict[tuple[str, str], Cell]:
    """(figure key, system) -> Cell."""
    values: dict[tuple[str, str], list[float]] = {}
    for record in records:
        system = record.system
        for measure in record.outcome.measures:
            if measure.key and math.isfinite(measure.value):
                values.setdefault((measure.key, system), []).append(measure.value)
    return {key: Cell(statistics.median(found), min(found), max(found), len(found)) for key, found in values.items()}


def ratio(figure: Figure, ours: Cell | None, theirs: Cell | None) -> float | None:
    """How many times better jobsvc is (> 1: jobsvc ahead)."""
    if ours is None or theirs is None or ours.median <= 0 or theirs.median <= 0:
        return None
    return theirs.median / ours.median if figure.lower_is_better else ours.median / theirs.median


def comparison_rows(records: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """One dict per figure that any system measured (for the table and the JSON file)."""
    found = cells(records)
    present = [s for s in SYSTEMS if any(system == s for (_key, system) in found)]
    rows = []
    for figure in FIGURES:
        ours = found.get((figure.key, "jobsvc"))
        if ours is None and not any((figure.key, s) in found for s in present):
            continue
        row: dict[str, Any] = {
            "key": figure.key,
            "figure": figure.label,
            "unit": figure.unit,
            "target": figure.target,
            "lower_is_better": figure.lower_is_better,
        }
        for system in present:
            cell = found.get((figure.key, system))
            row[system] = None if cell is None else dataclasses.asdict(cell)
            if system != "jobsvc":
                row[f"x_{system}"] = ratio(figure, ours, cell)
        rows.append(row)
    return rows


def format_comparison(records: Sequence[RunRecord]) -> str:
    """The one table: figure, unit, target, jobsvc, then each peer with jobsvc's ratio to it."""
    rows = comparison_rows(records)
    if not rows:
        return "(no comparable figure measured)"
    found = cells(records)
    present = [s for s in SYSTEMS if any(system == s for (_key, system) in found)]
    header = ["figure", "unit", "target"]
    for system in present:
        header += [system] if system == "jobsvc" else [system, f"x {system}"]
    lines = []
    for row in rows:
        cells_text = [row["figure"], row["unit"], row["target"] or "-"]
        for system in present:
            value = row.get(system)
            cell = found.get((row["key"], system))
            cells_text.append("-" if value is None or cell is None else cell.text())
            if system != "jobsvc":
                x = row.get(f"x_{system}")
                cells_text.append("-" if x is None else f"{x:.2f}x")
        lines.append(cells_text)
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    aligns = ["<", "<", "<", *([">"] * (len(header) - 3))]

    def render(cells_text: Sequence[str]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells_text, aligns, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule, *(render(line) for line in lines)])
