"""The README's serve command and the Dockerfile's steps, run as written."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, subprocess_env
from tests.processes import ServerProcess, free_port, jobsvc_cli
from tests.readme import readme_block

pytestmark = pytest.mark.slow


def test_readme_serve_command_starts_a_working_service(database_url: str) -> None:
    command = readme_block("serve-command")
    assert command == "make serve"
    port = free_port()
    venv = Path(sys.prefix)  # the environment `make test` built from the same Makefile rule
    args = f"--host 127.0.0.1 --port {port} --database-url {database_url}"
    server = ServerProcess([*shlex.split(command), f"VENV={venv}", f"ARGS={args}"], port, cwd=REPO)
    try:
        server.wait_ready()
        assert "serving handler resize_image 2.0.0" in server.output
        called = jobsvc_cli(
            "call", "resize_image", '{"url": "u", "width": 4, "height": 3}', "--version", "^2", server=server.address
        )
        assert called.returncode == 0, called.stderr
        assert json.loads(called.stdout)["result"]["json"] == {"url": "u?w=4&h=3", "size": [4, 3]}
        server.interrupt()
        assert "jobsvc stopped" in server.output
    finally:
        server.stop()
    assert readme_block("test-command") == "make test"
    assert (REPO / ".ci" / "run").read_text().strip().endswith("make test")


def dockerfile() -> tuple[list[str], list[str], list[str]]:
    """(build-stage RUN commands, HEALTHCHECK command, ENTRYPOINT + CMD) of the Dockerfile."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)
    build_runs = re.findall(r"^RUN (.+)$", stages[1], flags=re.MULTILINE)
    health = json.loads(re.search(r"HEALTHCHECK .*? CMD (\[.+\])", text).group(1))  # type: ignore[union-attr]
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.+\])$", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    cmd = json.loads(re.search(r"^CMD (\[.+\])$", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    return build_runs, health, entry + cmd


def test_dockerfile_install_steps_build_a_working_service(tmp_path: Path, database_url: str) -> None:
    runs, health, command = dockerfile()
    source = tmp_path / "src"
    source.mkdir()
    for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", (REPO / "Dockerfile").read_text(), re.MULTILINE):
        for name in copied.split():
            target = source / name
            if (REPO / name).is_dir():
                shutil.copytree(REPO / name, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(REPO / name, target)
    venv = tmp_path / "opt-jobsvc"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    for run in runs:
        shell = run.replace("/opt/jobsvc", str(venv)).replace("python -m venv", f"{sys.executable} -m venv")
        done = subprocess.run(
            shell, shell=True, cwd=source, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, f"{shell}\n{done.stdout}\n{done.stderr}"
    port = free_port()
    argv = [str(venv / "bin" / command[0]), *command[1:]]
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    runtime_env = {**env, "JOBSVC_DATABASE_URL": database_url, "PATH": f"{venv / 'bin'}:{env['PATH']}"}
    server = ServerProcess(argv, port, cwd=tmp_path, env=runtime_env)
    try:
        server.wait_ready()
        probe = [str(venv / "bin" / health[0]), *[a.replace("50051", str(port)) for a in health[1:]]]
        checked = subprocess.run(probe, capture_output=True, text=True, timeout=30, env=runtime_env, check=False)
        assert checked.returncode == 0 and checked.stdout.strip() == "SERVING", checked.stderr
        called = subprocess.run(
            [str(venv / "bin" / "jobsvc"), "--server", server.address, "call", "echo", '"hi"'],
            capture_output=True,
            text=True,
            timeout=30,
            env=subprocess_env(),
            check=False,
        )
        assert json.loads(called.stdout)["result"]["json"] == "hi"
        assert server.terminate() == 0
    finally:
        server.stop()
