"""RedriveWorkflowStep against a real server and PostgreSQL: a failed step runs again and
its workflow continues from there, joins and fan-ins still exactly once."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import asyncpg
import grpc
import pytest

from jobsvc.cli.commands.client import call_server
from jobsvc.cli.parser import parse_args
from jobsvc.sdk import Client, error_details, payload_value, workflow_step
from jobsvc.server import JobsvcServer
from jobsvc.v1 import job_pb2, workflow_service_pb2
from tests.conftest import REPO

WF = workflow_service_pb2
SUCCEEDED, FAILED, CANCELLED = job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_CANCELLED
WAITING = job_pb2.JOB_STATE_WAITING


def once(step: WF.WorkflowStep) -> WF.WorkflowStep:
    """The step with one attempt: `flaky` fails its first and succeeds on its second."""
    step.job.retry_policy.maximum_attempts = 1
    return step


def states(workflow: WF.Workflow) -> dict[str, int]:
    return {step.name: step.job.state for step in workflow.steps}


async def wait_done(client: Client, workflow_id: str, timeout: float = 20) -> WF.Workflow:
    """GetWorkflow (FULL) once it is no longer RUNNING (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (workflow := await client.get_workflow(workflow_id, full=True)).state == WF.WORKFLOW_STATE_RUNNING:
        assert loop.time() < deadline, states(workflow)
        await asyncio.sleep(0.05)
    return workflow


async def started_counts(database_url: str, workflow_id: str) -> dict[str, int]:
    """How many times each step of the workflow was started."""
    conn = await asyncpg.connect(database_url)
    try:
        found = await conn.fetch(
            """SELECT s.name, count(*) FILTER (WHERE e.kind = 'started') AS n FROM jobsvc_workflow_steps s
               JOIN jobsvc_job_events e ON e.job_id = s.job_id WHERE s.workflow_id = $1 GROUP BY s.name""",
            uuid.UUID(workflow_id),
        )
    finally:
        await conn.close()
    return {r["name"]: r["n"] for r in found}


async def test_a_redriven_step_continues_its_workflow(client: Client, database_url: str) -> None:
    # a (fails once) -> b -> c, and d; join waits for c and d.
    workflow = await client.submit_workflow(
        [
            once(workflow_step("a", "flaky", {"n": 1})),
            workflow_step("b", "echo", {}, inputs={"got": "a"}),
            workflow_step("c", "echo", {}, merge=["b"]),
            workflow_step("d", "echo", {"d": 1}),
            workflow_step("join", "echo", {}, inputs={"c": "c", "d": "d"}),
        ],
        timeout=10,
    )
    failed = await wait_done(client, workflow.id)
    assert failed.state == WF.WORKFLOW_STATE_FAILED
    assert states(failed) == {"a": FAILED, "b": CANCELLED, "c": CANCELLED, "d": SUCCEEDED, "join": CANCELLED}
    before = [event async for event in client.stream_workflow(workflow.id)]

    redriven = await client.redrive_workflow_step(workflow.id, "a")
    assert redriven.state == WF.WORKFLOW_STATE_RUNNING
    assert {name: s for name, s in states(redriven).items() if name != "a"} == {
        "b": WAITING,
        "c": WAITING,
        "d": SUCCEEDED,
        "join": WAITING,
    }
    # The stream picks up where it ended, and ends again with the workflow.
    after = [event async for event in client.stream_workflow(workflow.id, after_sequence=before[-1].sequence)]
    done = await wait_done(client, workflow.id)
    assert done.state == WF.WORKFLOW_STATE_SUCCEEDED
    jobs = {step.name: step.job for step in done.steps}
    assert payload_value(jobs["b"].result) == {"got": "recovered"}
    assert payload_value(jobs["join"].result) == {"c": {"got": "recovered"}, "d": {"d": 1}}
    assert jobs["a"].attempt == 2
    assert await started_counts(database_url, workflow.id) == {"a": 2, "b": 1, "c": 1, "d": 1, "join": 1}
    assert [e.sequence for e in after] == list(range(before[-1].sequence + 1, before[-1].sequence + len(after) + 1))
    assert [(e.step, e.event.WhichOneof("kind")) for e in after if e.event.WhichOneof("kind") == "requeued"] == [
        ("a", "requeued"),
        ("b", "requeued"),
        ("c", "requeued"),
        ("join", "requeued"),
    ]
    assert after[-1].step == "join" and after[-1].event.WhichOneof("kind") == "succeeded"


async def test_a_join_with_two_failed_parents_waits_for_both_redrives(client: Client, database_url: str) -> None:
    workflow = await client.submit_workflow(
        [
            once(workflow_step("a", "flaky", {"n": 1})),
            once(workflow_step("b", "flaky", {"n": 2})),
            workflow_step("join", "echo", {}, inputs={"a": "a", "b": "b"}),
        ],
        timeout=10,
    )
    assert (await wait_done(client, workflow.id)).state == WF.WORKFLOW_STATE_FAILED
    await client.redrive_workflow_step(workflow.id, "a")
    half = await wait_done(client, workflow.id)
    # a succeeded; join still stopped by b.
    assert states(half) == {"a": SUCCEEDED, "b": FAILED, "join": CANCELLED}
    assert half.state == WF.WORKFLOW_STATE_FAILED
    await client.redrive_workflow_step(workflow.id, "b")
    done = await wait_done(client, workflow.id)
    assert done.state == WF.WORKFLOW_STATE_SUCCEEDED
    assert payload_value({s.name: s.job for s in done.steps}["join"].result) == {"a": "recovered", "b": "recovered"}
    assert (await started_counts(database_url, workflow.id))["join"] == 1


async def test_failed_elements_redriven_complete_the_fan_in_once(client: Client, database_url: str) -> None:
    workflow = await client.submit_workflow(
        [
            workflow_step("list", "echo", {"items": [1, 2, 3]}),
            once(workflow_step("each", "flaky", {}, map_over=("list", "items"), map_key="n")),
            workflow_step("sum", "echo", {}, inputs={"all": "each"}),
        ],
        timeout=10,
    )
    failed = await wait_done(client, workflow.id)
    assert states(failed) == {
        "list": SUCCEEDED,
        "each": CANCELLED,
        "each[0]": FAILED,
        "each[1]": FAILED,
        "each[2]": FAILED,
        "sum": CANCELLED,
    }
    for element in ("each[0]", "each[1]"):
        await client.redrive_workflow_step(workflow.id, element)
        partial = await wait_done(client, workflow.id)
        assert partial.state == WF.WORKFLOW_STATE_FAILED and states(partial)["each"] == CANCELLED
    await client.redrive_workflow_step(workflow.id, "each[2]")
    done = await wait_done(client, workflow.id)
    assert done.state == WF.WORKFLOW_STATE_SUCCEEDED
    jobs = {s.name: s.job for s in done.steps}
    assert payload_value(jobs["each"].result) == ["recovered"] * 3
    assert payload_value(jobs["sum"].result) == {"all": ["recovered"] * 3}
    counts = await started_counts(database_url, workflow.id)
    assert counts["sum"] == 1 and counts["each"] == 0 and counts["each[2]"] == 2


@pytest.mark.parametrize(
    ("case", "code", "reason"),
    [
        ("succeeded", grpc.StatusCode.FAILED_PRECONDITION, "STEP_NOT_FAILED"),
        ("cancelled", grpc.StatusCode.FAILED_PRECONDITION, "STEP_NOT_FAILED"),
        ("optional", grpc.StatusCode.FAILED_PRECONDITION, "STEP_OPTIONAL"),
        ("unknown step", grpc.StatusCode.NOT_FOUND, "WORKFLOW_STEP_NOT_FOUND"),
        ("unknown workflow", grpc.StatusCode.NOT_FOUND, "WORKFLOW_NOT_FOUND"),
        ("no step", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    ],
)
async def test_what_cannot_be_redriven(client: Client, case: str, code: Any, reason: str) -> None:
    workflow = await client.submit_workflow(
        [
            workflow_step("ok", "echo", {}),
            workflow_step("bad", "fail", {}),
            workflow_step("after", "echo", {}, depends_on=["bad"]),
            workflow_step("soft", "fail", {}, optional=True),
        ],
        timeout=10,
    )
    await wait_done(client, workflow.id)
    workflow_id, step = {
        "succeeded": (workflow.id, "ok"),
        "cancelled": (workflow.id, "after"),
        "optional": (workflow.id, "soft"),
        "unknown step": (workflow.id, "nope"),
        "unknown workflow": (str(uuid.uuid4()), "bad"),
        "no step": (workflow.id, ""),
    }[case]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await client.redrive_workflow_step(workflow_id, step)
    assert refused.value.code() == code
    details = error_details(refused.value)
    assert details.reason == reason
    if case == "no step":
        assert [field for field, _ in details.field_violations] == ["step"]


async def test_a_cancelled_workflow_is_not_redriven(client: Client) -> None:
    workflow = await client.submit_workflow(
        [workflow_step("bad", "fail", {}), workflow_step("later", "echo", {}, delay=3600)], timeout=10
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while states(await client.get_workflow(workflow.id))["bad"] != FAILED:
        assert loop.time() < deadline
        await asyncio.sleep(0.05)
    await client.cancel_workflow(workflow.id, "enough")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await client.redrive_workflow_step(workflow.id, "bad")
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(refused.value).reason == "WORKFLOW_CANCELLED"


async def test_the_readme_stream_and_redrive_example_runs_as_written(client: Client) -> None:
    readme = (REPO / "README.md").read_text()
    match = re.search(r"<!-- workflow-stream-example -->\n```python\n(.*?)```", readme, re.DOTALL)
    assert match, "README.md has no code block marked workflow-stream-example"
    namespace: dict[str, Any] = {}
    exec(compile(match[1], "README.md", "exec"), namespace)
    await asyncio.wait_for(namespace["main"](client), 30)


async def test_redrive_job_refuses_a_step_and_names_redrive_workflow_step(
    server: JobsvcServer, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    """RedriveJob on a step's job would make a copy outside the workflow (its cancelled
    dependants would never run): it is refused, naming the call that continues the workflow;
    RedriveJobs by handler leaves steps alone too."""
    workflow = await client.submit_workflow(
        [workflow_step("bad", "fail", {}), workflow_step("after", "echo", {}, depends_on=["bad"])], timeout=10
    )
    done = await wait_done(client, workflow.id)
    bad = next(step.job for step in done.steps if step.name == "bad")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await client.redrive(bad.id)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    details = error_details(refused.value)
    assert details.reason == "JOB_IS_WORKFLOW_STEP"
    assert details.metadata == {"job_id": bad.id, "state": "failed", "workflow_id": workflow.id, "step": "bad"}
    assert "RedriveWorkflowStep" in details.message
    plain = await client.call("fail", {}, timeout=10)
    assert plain.state == FAILED
    redriven = await client.redrive_all("fail")
    assert len(redriven) == 1 and (await client.get(redriven[0])).redrive_of == plain.id
    assert (await client.get(bad.id)).state == FAILED  # not redriven, still the step's job
    # The CLI says the same, and `jobsvc workflow redrive` is the command the refusal names.
    cli = ["--server", f"127.0.0.1:{server.port}"]
    assert await call_server(parse_args([*cli, "dlq", "redrive", "--job", bad.id], environ={})) == 2
    assert f"jobsvc workflow redrive {workflow.id} bad" in capsys.readouterr().err
    assert await call_server(parse_args([*cli, "workflow", "redrive", workflow.id, "bad"], environ={})) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "WORKFLOW_STATE_RUNNING"
    assert states(await wait_done(client, workflow.id))["bad"] == FAILED  # `fail` fails again
