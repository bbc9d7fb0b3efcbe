"""The `jobsvc` command as users run it: separate processes, the embedded database, SIGTERM."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest

from jobsvc.cli.commands.client import read_workflow
from jobsvc.cli.commands.workflow_watch import watch_workflow
from jobsvc.sdk import Client
from jobsvc.server import JobsvcServer
from tests.processes import ServerProcess, jobsvc_cli, jobsvc_serve, subprocess_env
from tests.readme import readme_block

pytestmark = pytest.mark.slow


def test_embedded_database_serves_and_keeps_jobs_across_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    with jobsvc_serve("--data-dir", str(data_dir), "--handlers", "tests.handlers") as server:
        assert "serving handler resize_image 2.1.0" in server.output
        health = jobsvc_cli("health", server=server.address)
        assert health.returncode == 0 and health.stdout.strip() == "SERVING"
        called = jobsvc_cli("call", "greet", '{"name": "disk"}', server=server.address)
        assert called.returncode == 0, called.stderr
        job = json.loads(called.stdout)
        assert job["state"] == "JOB_STATE_SUCCEEDED" and job["result"]["json"] == "hello, disk"
        assert server.terminate() == 0
        assert "jobsvc stopped" in server.output
    assert not (data_dir / "postmaster.pid").exists(), "embedded PostgreSQL still running after stop"
    with jobsvc_serve("--data-dir", str(data_dir)) as server:
        got = jobsvc_cli("jobs", "get", job["id"], server=server.address)
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["result"]["json"] == "hello, disk"
        assert server.terminate() == 0
    assert not (data_dir / "postmaster.pid").exists()


def test_two_server_processes_share_one_database(database_url: str) -> None:
    with (
        jobsvc_serve("--database-url", database_url) as api_only,
        jobsvc_serve("--database-url", database_url, "--handlers", "tests.handlers") as worker,
    ):
        assert "serving no handlers" in api_only.output
        called = jobsvc_cli(
            "call", "resize_image", '{"width": 7, "height": 9}', "--version", "^2", server=api_only.address
        )
        assert called.returncode == 0, called.stderr
        job = json.loads(called.stdout)
        assert job["result"]["json"] == {"version": "2.1.0", "size": [7, 9]}
        watched = jobsvc_cli("watch", job["id"], "--json", server=api_only.address)
        events = [json.loads(line) for line in watched.stdout.splitlines()]
        assert events[1]["started"]["executor"].split(":")[1] == str(worker.proc.pid)


def test_cli_commands_and_errors(database_url: str) -> None:
    with jobsvc_serve("--database-url", database_url, "--handlers", "tests.handlers") as server:
        cli = lambda *a: jobsvc_cli(*a, server=server.address)  # noqa: E731
        submitted = cli("submit", "echo", "[1, 2]", "--delay", "60", "--label", "team=core")
        assert submitted.returncode == 0, submitted.stderr
        job = json.loads(submitted.stdout)
        assert job["labels"] == {"team": "core"} and job["state"] == "JOB_STATE_QUEUED"
        listed = json.loads(cli("jobs", "list", "--state", "queued").stdout)
        assert [j["id"] for j in listed["jobs"]] == [job["id"]]
        cancelled = json.loads(cli("jobs", "cancel", job["id"], "--reason", "no").stdout)
        assert cancelled["state"] == "JOB_STATE_CANCELLED"
        watched = cli("watch", "--submit", "steps", '{"count": 2}')
        assert watched.returncode == 0
        assert "100.0% step 2/2" in watched.stdout and 'succeeded: {"steps": 2}' in watched.stdout
        failed = cli("call", "fail", "1")
        assert failed.returncode == 1 and json.loads(failed.stdout)["error"]["type"] == "ValueError"
        bad = cli("call", "greet", '{"name": 3}')
        assert bad.returncode == 2
        assert "INVALID_ARGUMENT" in bad.stderr and "job.input.name" in bad.stderr
        missing = cli("submit", "resize_image", "{}", "--version", "^9")
        assert missing.returncode == 2 and "versions: 2.1.0, 2.0.0, 1.4.0" in missing.stderr
        handlers = cli("handlers", "greet")
        assert json.loads(handlers.stdout)["input_schema"]["required"] == ["name"]


def test_dead_letter_commands(database_url: str) -> None:
    with jobsvc_serve("--database-url", database_url, "--handlers", "tests.handlers") as server:
        cli = lambda *a: jobsvc_cli(*a, server=server.address)  # noqa: E731
        failed = json.loads(cli("call", "fail", "1").stdout)
        listed = json.loads(cli("dlq", "list", "--handler", "fail").stdout)
        assert [j["id"] for j in listed["jobs"]] == [failed["id"]]
        redriven = json.loads(cli("dlq", "redrive", "--job", failed["id"]).stdout)
        assert redriven["redrive_of"] == failed["id"]
        again = cli("dlq", "redrive", "--job", failed["id"])
        assert again.returncode == 2 and "FAILED_PRECONDITION" in again.stderr


def test_the_same_handler_module_runs_in_a_remote_worker_process(database_url: str) -> None:
    with jobsvc_serve("--database-url", database_url) as server:
        worker = ServerProcess(
            [
                sys.executable,
                "-m",
                "jobsvc.cli",
                "worker",
                "--server",
                server.address,
                "--handlers",
                "tests.handlers",
                "--worker-id",
                "cli-worker",
                "--concurrency",
                "4",
            ],
            server.port,
        )
        try:
            worker.wait_for("jobsvc worker cli-worker serving")
            called = jobsvc_cli("call", "greet", '{"name": "worker"}', server=server.address)
            assert called.returncode == 0, called.stderr + worker.output
            job = json.loads(called.stdout)
            assert job["result"]["json"] == "hello, worker"  # the module's lifespan ran in the worker
            watched = jobsvc_cli("watch", job["id"], "--json", server=server.address)
            started = json.loads(watched.stdout.splitlines()[1])["started"]
            assert started["executor"].startswith("worker:cli-worker:")
            assert worker.terminate() == 0
            assert "jobsvc worker stopped" in worker.output
        finally:
            worker.stop()


def test_schedule_commands(database_url: str) -> None:
    with jobsvc_serve("--database-url", database_url, "--handlers", "tests.handlers") as server:
        cli = lambda *a: jobsvc_cli(*a, server=server.address)  # noqa: E731
        created = cli(
            "schedules",
            "create",
            "hourly",
            "echo",
            '{"n": 1}',
            "--cron",
            "0 * * * *",
            "--time-zone",
            "Asia/Tokyo",
            "--while-paused",
            "keep",
        )
        assert created.returncode == 0, created.stderr
        schedule = json.loads(created.stdout)
        assert schedule["cron"] == "0 * * * *" and schedule["time_zone"] == "Asia/Tokyo"
        assert schedule["while_paused"] == "WHILE_PAUSED_KEEP"
        assert "hourly\techo latest\t0 * * * *\tnext " in cli("schedules", "list").stdout
        assert json.loads(cli("schedules", "pause", "hourly").stdout)["paused"] is True
        assert "paused" in cli("schedules", "list").stdout
        bad = cli("schedules", "create", "bad", "echo", "--cron", "61 * * * *")
        assert bad.returncode == 2 and "schedule.cron" in bad.stderr
        taken = cli("schedules", "create", "hourly", "echo", "--every", "5")
        assert taken.returncode == 2 and "ALREADY_EXISTS" in taken.stderr
        assert cli("schedules", "delete", "hourly").returncode == 0
        assert "NOT_FOUND" in cli("schedules", "get", "hourly").stderr


def test_workflow_commands(database_url: str, tmp_path: Path) -> None:
    definition = {
        "name": "cli",
        "steps": [
            {"name": "a", "job": {"handler": "echo", "input": {"json": {"x": 1}}}},
            {
                "name": "b",
                "job": {"handler": "echo", "input": {"json": {}}},
                "depends_on": ["a"],
                "inputs": [{"step": "a", "path": "x", "key": "y"}],
            },
        ],
    }
    file = tmp_path / "workflow.json"
    file.write_text(json.dumps(definition))
    with jobsvc_serve("--database-url", database_url, "--handlers", "tests.handlers") as server:
        cli = lambda *a: jobsvc_cli(*a, server=server.address)  # noqa: E731
        done = cli("workflow", "submit", str(file), "--wait")
        assert done.returncode == 0, done.stderr
        called = json.loads(done.stdout)
        assert called["workflow"]["state"] == "WORKFLOW_STATE_SUCCEEDED"
        assert called["outputs"][0]["job"]["result"]["json"] == {"y": 1}
        workflow_id = called["workflow"]["id"]
        assert f"{workflow_id}\tcli\tSUCCEEDED\t2/2" in cli("workflow", "list").stdout
        got = json.loads(cli("workflow", "get", workflow_id, "--full").stdout)
        assert [s["name"] for s in got["steps"]] == ["a", "b"]
        assert json.loads(cli("workflow", "cancel", workflow_id).stdout)["state"] == "WORKFLOW_STATE_SUCCEEDED"
        definition["steps"][1]["depends_on"] = ["b"]
        file.write_text(json.dumps(definition))
        bad = cli("workflow", "submit", str(file))
        assert bad.returncode == 2 and "steps[1].depends_on[0]" in bad.stderr


async def test_workflow_submit_yaml_and_watch(server: JobsvcServer, client: Client, tmp_path: Path) -> None:
    """`workflow submit` reads YAML; `workflow watch` prints each step's state as it changes
    (a line each when not on a terminal) and ends, exit 0, when the workflow SUCCEEDED; on a
    terminal it redraws the DAG in place."""
    file = tmp_path / "watched.yaml"
    file.write_text(readme_block("workflow-yaml-example", "yaml"))  # gate, slow, list, each, report
    cli = [sys.executable, "-m", "jobsvc.cli", "--server", f"127.0.0.1:{server.port}", "workflow"]
    env = subprocess_env()
    submit = await asyncio.create_subprocess_exec(*cli, "submit", str(file), env=env, stdout=PIPE, stderr=PIPE)
    stdout, stderr = await asyncio.wait_for(submit.communicate(), 60)
    assert submit.returncode == 0, stderr.decode()
    workflow = json.loads(stdout)
    workflow_id, gate = workflow["id"], workflow["steps"][0]["job"]["id"]

    watch = await asyncio.create_subprocess_exec(*cli, "watch", workflow_id, env=env, stdout=PIPE)
    try:
        assert watch.stdout is not None
        async with asyncio.timeout(60):
            first = [(await watch.stdout.readline()).decode() for _ in range(5)]  # the picture it starts from
            assert [line.split("\t")[0] for line in first] == ["gate", "slow", "list", "each", "report"]
            assert first[1:] == ["slow\twaiting\n", "list\twaiting\n", "each\twaiting\n", "report\twaiting\n"]
            await client.cancel(gate, "open the gate")  # the watch is following the workflow
            lines = (await watch.stdout.read()).decode().splitlines()
            assert await watch.wait() == 0
    finally:
        if watch.returncode is None:
            watch.kill()
            await watch.wait()
    assert lines[-1] == f"workflow {workflow_id} SUCCEEDED (8/8 steps)"
    changes = [tuple(line.split("\t")) for line in lines[:-1]]
    assert changes[0] == ("gate", "cancelled")
    assert ("slow", "queued") in changes and ("slow", "running 50%") in changes
    # The elements appear as the mapped step's count, then finish (the fan-in's events may come first).
    assert ("each", "mapping 0/3") in changes and ("each[2]", "succeeded") in changes, changes
    assert changes.index(("report", "queued")) < changes.index(("report", "running"))
    assert changes[-1] == ("report", "succeeded")

    # On a terminal: the tree, indented by depth, drawn and redrawn in place (here: finished).
    screen = io.StringIO()
    assert await watch_workflow(client, workflow_id, screen, live=True) == 0
    assert screen.getvalue().count("\x1b[J") == 2 and "\x1b[5F" in screen.getvalue()  # redrawn over 5 lines
    assert re.search(r"\n      report +succeeded +<- each, slow\n", screen.getvalue()), screen.getvalue()

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SystemExit, match="neither JSON nor YAML"):
        read_workflow(str(bad))
    bad.write_text("name: x\nsteps: [{nope: 1}]\n")
    with pytest.raises(SystemExit, match="is not a SubmitWorkflowRequest"):
        read_workflow(str(bad))
