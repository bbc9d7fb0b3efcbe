"""Summaries of benchmark runs: the printed table and the JSON file."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.scenarios import Outcome

PARTIES = ("harness", "server", "workers", "broker", "postgres")


@dataclass(frozen=True)
class RunRecord:
    """One run of one scenario, as measured."""

    scenario: str
    run: int
    outcome: Outcome
    system: str = "jobsvc"


@dataclass(frozen=True)
class Row:
    """A figure summarised over its runs."""

    scenario: str
    figure: str
    unit: str
    median: float
    min: float
    max: float
    runs: int


def summarize(records: Sequence[RunRecord]) -> list[Row]:
    """Median, min and max of every figure, in the order the figures first appeared."""
    values: dict[tuple[str, str, str], list[float]] = {}
    for record in records:
        for measure in record.outcome.measures:
            name = measure.name if record.system == "jobsvc" else f"{record.system}: {measure.name}"
            values.setdefault((record.scenario, name, measure.unit), []).append(measure.value)
    return [_row(scenario, figure, unit, found) for (scenario, figure, unit), found in values.items()]


def summarize_cpu(records: Sequence[RunRecord]) -> list[Row]:
    """Median cores used by each party during each scenario's measurement windows."""
    values: dict[tuple[str, str], list[float]] = {}
    for record in records:
        for party in PARTIES:
            if party in record.outcome.cpu:
                values.setdefault((record.scenario, party), []).append(record.outcome.cpu[party])
    return [_row(scenario, f"{scenario}: {party}", "cores", found) for (scenario, party), found in values.items()]


def _row(scenario: str, figure: str, unit: str, values: list[float]) -> Row:
    return Row(scenario, figure, unit, statistics.median(values), min(values), max(values), len(values))


def format_table(rows: Sequence[Row]) -> str:
    """A plain-text table: figure, median, min, max, unit."""
    header = ("figure", "median", "min", "max", "unit", "runs")
    lines = [(r.figure, _number(r.median), _number(r.min), _number(r.max), r.unit, str(r.runs)) for r in rows]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    aligns = ["<", ">", ">", ">", "<", ">"]

    def render(cells: Sequence[str]) -> str:
        return "  ".join(f"{cell:{align}{width}}" for cell, align, width in zip(cells, aligns, widths, strict=True))

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([render(header), rule, *(render(cells) for cells in lines)])


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write a results document (see results)."""
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")


def results(meta: dict[str, Any], records: Sequence[RunRecord], comparison: list[dict[str, Any]]) -> dict[str, Any]:
    """Every raw run, the summaries and what the machine and settings were (JSON-ready)."""
    document = {
        "meta": meta,
        "comparison": comparison,
        "summary": [asdict(row) for row in summarize(records)],
        "cpu": [asdict(row) for row in summarize_cpu(records)],
        "runs": [
            {
                "scenario": r.scenario,
                "system": r.system,
                "run": r.run,
                "measures": [asdict(m) for m in r.outcome.measures],
                "cpu_cores": r.outcome.cpu,
                "details": r.outcome.details,
            }
            for r in records
        ],
    }
    finite: dict[str, Any] = _finite(document)
    return finite


def _finite(value: Any) -> Any:
    """The same document with NaN and infinities as null, which JSON has no spelling for."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
