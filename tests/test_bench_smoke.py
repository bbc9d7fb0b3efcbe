"""The benchmark harness still runs (short mode). Speed is measured by `make bench`, never
asserted here: this only proves the harness works end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_the_benchmark_harness_runs_in_short_mode(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--runs", "1", "--only", "submit,e2e,call1", "--json", str(out)],
        cwd=REPO,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    report = json.loads(out.read_text())
    figures = {row["figure"] for row in report["summary"]}
    assert {"Submit, 32 callers", "Call, 1 caller: p50"} <= figures, figures
    assert all(row["median"] > 0 for row in report["summary"] if row["unit"].endswith("/s"))
