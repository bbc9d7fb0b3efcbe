"""`jobsvc serve` with the observability flags, as users run it: metrics scraped from the
process, JSON log lines parsed from its output, and the otlp exporter's missing extra."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import subprocess_env
from tests.e2e.test_tracing import _otlp_installed
from tests.processes import jobsvc_cli, jobsvc_serve

pytestmark = pytest.mark.slow

# What `jobsvc serve` prints (stdout) besides its log lines.
PRINTED = ("serving handler ", "jobsvc listening on", "metrics on http://", "jobsvc stopping", "jobsvc stopped")


def test_serve_exposes_metrics_and_writes_json_logs(database_url: str) -> None:
    with jobsvc_serve(
        "--database-url",
        database_url,
        "--handlers",
        "tests.handlers",
        "--metrics-port",
        "0",
        "--metrics-host",
        "127.0.0.1",
        "--log-format",
        "json",
    ) as server:
        [url] = [line.removeprefix("metrics on ") for line in server.lines if line.startswith("metrics on http://")]
        called = jobsvc_cli("call", "flaky", '"secret-input"', server=server.address)
        assert called.returncode == 0, called.stderr
        job = json.loads(called.stdout)
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        assert server.terminate() == 0
    samples = {
        (s.name, s.labels.get("handler")): s.value for f in text_string_to_metric_families(text) for s in f.samples
    }
    assert samples[("jobsvc_jobs_retried_total", "flaky")] == 1
    assert samples[("jobsvc_jobs_succeeded_total", "flaky")] == 1

    logged = [line for line in server.lines if line.startswith("{")]
    entries = [json.loads(line) for line in logged]
    about_job = [e for e in entries if job["id"] in e["message"] or e["logger"] == "tests.handlers"]
    assert len(about_job) >= 3  # the handler twice, the failed attempt
    for entry in about_job:
        assert (entry["job_id"], entry["handler"], entry["version"]) == (job["id"], "flaky", "1.0.0")
        assert entry["attempt"] in (1, 2)
    # Nothing else is written as plain text by Python's logging (gRPC's C core logs on its own).
    others = [line for line in server.lines if not line.startswith("{") and not line.startswith(PRINTED)]
    assert not [line for line in others if " jobsvc." in line], others
    assert "secret-input" not in server.output


@pytest.mark.skipif(_otlp_installed(), reason="the otlp extra is installed")
def test_otlp_without_its_extra_is_refused_with_the_install_command(database_url: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobsvc.cli",
            "serve",
            "--database-url",
            database_url,
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--trace-exporter",
            "otlp",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        check=False,
    )
    assert result.returncode == 2
    assert "pip install 'jobsvc[otlp]'" in result.stderr
