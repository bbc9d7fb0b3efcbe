"""The proto gates can fail: buf lint and buf breaking catch what they are there to catch."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

BUF = REPO / "tools" / "node_modules" / ".bin" / "buf"

pytestmark = pytest.mark.skipif(not BUF.exists(), reason="buf is installed by `make check` (tools/package.json)")


def _copy_proto(tmp_path: Path) -> Path:
    target = tmp_path / "proto"
    shutil.copytree(REPO / "proto", target)
    return target


def _buf(proto: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BUF), *args], cwd=proto, capture_output=True, text=True, timeout=120, check=False)


def test_the_current_api_is_compatible_with_the_release() -> None:
    done = _buf(REPO / "proto", "breaking", "--against", "released/jobsvc-v1.binpb")
    assert done.returncode == 0, done.stdout + done.stderr


def test_renumbering_a_field_is_caught_as_breaking(tmp_path: Path) -> None:
    proto = _copy_proto(tmp_path)
    job = proto / "jobsvc" / "v1" / "job.proto"
    job.write_text(job.read_text().replace("string handler = 1;", "string handler = 99;", 1))
    done = _buf(proto, "breaking", "--against", "released/jobsvc-v1.binpb")
    assert done.returncode != 0
    assert "JobSpec" in done.stdout + done.stderr


def test_lint_catches_an_unprefixed_enum_value(tmp_path: Path) -> None:
    proto = _copy_proto(tmp_path)
    job = proto / "jobsvc" / "v1" / "job.proto"
    job.write_text(job.read_text().replace("JOB_STATE_QUEUED = 1;", "QUEUED = 1;"))
    done = _buf(proto, "lint")
    assert done.returncode != 0 and "QUEUED" in done.stdout + done.stderr
