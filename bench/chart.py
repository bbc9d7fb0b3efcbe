"""The comparison as a picture: one panel per figure, a bar per system, as SVG.

    python -m bench.chart results.json chart.svg      (from a file written by bench.run --json)
    python -m bench.run --chart chart.svg ...          (at the end of a run)

Each panel has its own scale (the figures' units differ by orders of magnitude), so bars
compare systems within a figure, never across figures. A bar spans the median; a thin
line marks the min-max range over the runs. jobsvc's bar is drawn first and darker; the
ceiling (`bare`) last. Plain SVG written by hand: no plotting library to install, and the
file diffs and renders anywhere (the README embeds it).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from bench.figures import SYSTEMS

WIDTH = 860
LABEL_WIDTH = 300
BAR_AREA = WIDTH - LABEL_WIDTH - 110  # room on the right for the value
BAR_HEIGHT = 14
BAR_GAP = 3
PANEL_GAP = 14
COLOURS = {
    "jobsvc": "#1f5fa8",
    "pgqueuer": "#8c8c8c",
    "procrastinate": "#b0b0b0",
    "celery": "#c9a96e",
    "bare": "#3c8c5a",
}


def _value(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def _title(meta: dict[str, Any]) -> str:
    """When, on what, from which commit."""
    commit = str(meta.get("commit") or "unknown commit")[:12]
    started = str(meta.get("started_at") or "")[:16].replace("T", " ")
    runs = meta.get("args", {}).get("runs", "?")
    return (
        f"jobsvc beside its peers, {started} UTC, {meta.get('cpus', '?')} cores, "
        f"PostgreSQL fsync {'on' if meta.get('postgres_fsync') else 'off'}, commit {commit}, "
        f"median of {runs} run(s)"
    )


def render(document: dict[str, Any]) -> str:
    """The SVG of a bench.run JSON document (its `comparison` rows and `meta`)."""
    rows = [r for r in document.get("comparison", []) if _bars(r)]
    panels: list[str] = []
    y = 46
    for row in rows:
        bars = _bars(row)
        top = max(cell["max"] for _, cell in bars) or 1.0
        better = "lower is better" if row.get("lower_is_better") else ""
        label = f"{row['figure']} ({row['unit']})"
        panels.append(f'<text x="8" y="{y + 11}" class="figure">{escape(label)}</text>')
        notes = [n for n in (better, f"target {row['target']}" if row.get("target") else "") if n]
        if notes:
            panels.append(f'<text x="8" y="{y + 25}" class="note">{escape("; ".join(notes))}</text>')
        for system, cell in bars:
            width = max(1.0, BAR_AREA * cell["median"] / top)
            low, high = (BAR_AREA * cell[k] / top for k in ("min", "max"))
            middle = y + BAR_HEIGHT / 2
            tip = f"<title>{escape(system)}: {_value(cell['median'])}</title>"
            panels += [
                f'<text x="{LABEL_WIDTH - 6}" y="{y + 11}" class="system">{escape(system)}</text>',
                f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" '
                f'fill="{COLOURS.get(system, "#999")}">{tip}</rect>',
            ]
            if cell.get("runs", 1) > 1 and high > low:
                panels.append(
                    f'<line x1="{LABEL_WIDTH + low:.1f}" x2="{LABEL_WIDTH + high:.1f}" y1="{middle}" y2="{middle}" '
                    'class="range"/>'
                )
            panels.append(
                f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 11}" class="value">{_value(cell["median"])}</text>'
            )
            y += BAR_HEIGHT + BAR_GAP
        y += PANEL_GAP + (12 if notes and len(bars) < 2 else 0)
    height = y + 10
    title = escape(_title(document.get("meta", {})))
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
            "<style>.figure{font-weight:bold}.note{fill:#666;font-size:11px}"
            ".system{text-anchor:end;fill:#333}.value{fill:#333}.range{stroke:#000;stroke-width:1}</style>",
            f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>',
            f'<text x="8" y="22" font-size="13">{title}</text>',
            *panels,
            "</svg>",
            "",
        ]
    )


def _bars(row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(system, cell) of each system that measured this figure, jobsvc first; none unless
    jobsvc and at least one other system did (a lone bar compares nothing)."""
    found = [(s, row[s]) for s in SYSTEMS if isinstance(row.get(s), dict) and row[s]["median"] > 0]
    if len(found) < 2 or found[0][0] != "jobsvc":
        return []
    return found


def write(path: Path, document: dict[str, Any]) -> None:
    """Write the chart of a bench.run JSON document."""
    path.write_text(render(document))


def main(argv: Sequence[str] | None = None) -> int:
    """python -m bench.chart RESULTS.json OUT.svg"""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    write(Path(args[1]), json.loads(Path(args[0]).read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
