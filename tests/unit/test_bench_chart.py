"""The benchmark's comparison chart (bench/chart.py): a bar per system within each figure,
on that figure's own scale, and only figures that compare something."""

from __future__ import annotations

from xml.etree import ElementTree

from bench.chart import BAR_AREA, render

SVG = "{http://www.w3.org/2000/svg}"


def _cell(median: float, low: float | None = None, high: float | None = None, runs: int = 3) -> dict[str, float]:
    return {"median": median, "min": low or median, "max": high or median, "runs": runs}


def test_bars_are_to_scale_within_a_figure_and_lone_figures_are_left_out() -> None:
    document = {
        "meta": {
            "commit": "0123456789abcdef",
            "started_at": "2026-12-07T04:00:00+00:00",
            "cpus": 2,
            "postgres_fsync": True,
            "args": {"runs": 3},
        },
        "comparison": [
            {
                "key": "e2e",
                "figure": "End-to-end",
                "unit": "jobs/s",
                "target": ">= 2x pgqueuer",
                "lower_is_better": False,
                "jobsvc": _cell(4000, 3800, 4200),
                "pgqueuer": _cell(8000),
                "bare": _cell(16000),
            },
            {
                "key": "call1_p50",
                "figure": "Call p50",
                "unit": "ms",
                "target": "",
                "lower_is_better": True,
                "jobsvc": _cell(3.0),
                "celery": _cell(4.5),
            },
            {"key": "stream_1", "figure": "Stream", "unit": "events/s", "target": "", "jobsvc": _cell(9000)},
        ],
    }
    svg = ElementTree.fromstring(render(document))
    bars = {
        r.find(f"{SVG}title").text: float(r.get("width"))
        for r in svg.iter(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None
    }
    assert set(bars) == {"jobsvc: 4,000", "pgqueuer: 8,000", "bare: 16,000", "jobsvc: 3.00", "celery: 4.50"}
    assert bars["bare: 16,000"] == BAR_AREA and bars["pgqueuer: 8,000"] == BAR_AREA / 2
    assert bars["jobsvc: 4,000"] == BAR_AREA / 4
    assert bars["celery: 4.50"] == BAR_AREA and bars["jobsvc: 3.00"] == BAR_AREA * 3 / 4.5
    text = " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    assert "commit 0123456789ab" in text and "lower is better" in text and "target >= 2x pgqueuer" in text
    assert "Stream" not in text  # one system only: nothing to compare
    assert len(list(svg.iter(f"{SVG}line"))) == 1  # the min-max range of the one figure with a spread
