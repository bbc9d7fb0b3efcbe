"""Workflows against real servers and PostgreSQL: outputs where declared, joins exactly
once across replicas, failure policies, cancel, and bad input."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import grpc
import pytest

from jobsvc.executor import ExecutorConfig
from jobsvc.sdk import Client, error_details, payload_value, workflow_step
from jobsvc.v1 import job_pb2, workflow_service_pb2
from tests.conftest import StartServer

WF = workflow_service_pb2
SUCCEEDED, FAILED, CANCELLED = job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_CANCELLED
WAITING = job_pb2.JOB_STATE_WAITING


def steps_of(workflow: WF.Workflow) -> dict[str, job_pb2.Job]:
    """Each step's job by step name."""
    return {step.name: step.job for step in workflow.steps}


async def wait_workflow(client: Client, workflow_id: str, timeout: float = 20) -> WF.Workflow:
    """Poll GetWorkflow (FULL) until it is no longer RUNNING (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        workflow = await client.get_workflow(workflow_id, full=True)
        if workflow.state != WF.WORKFLOW_STATE_RUNNING:
            return workflow
        assert loop.time() < deadline, f"workflow stayed RUNNING: {[(s.name, s.job.state) for s in workflow.steps]}"
        await asyncio.sleep(0.05)


def result(job: job_pb2.Job) -> Any:
    return payload_value(job.result)


async def test_a_diamond_passes_outputs_where_declared(client: Client) -> None:
    # top -> left, right -> bottom; left and right take fields of top's result, bottom
    # merges left's whole result and takes one field of right's under a key of its own.
    response = await client.call_workflow(
        [
            workflow_step("top", "echo", {"size": 3, "owner": {"name": "ada"}}),
            workflow_step("left", "echo", {"side": "left"}, inputs={"size": ("top", "size")}),
            workflow_step("right", "echo", {"side": "right"}, inputs={"who": ("top", "owner.name")}),
            workflow_step("bottom", "echo", {"mine": True}, merge=["left"], inputs={"who": ("right", "who")}),
        ],
        name="diamond",
        timeout=20,
    )
    workflow = response.workflow
    assert workflow.state == WF.WORKFLOW_STATE_SUCCEEDED and workflow.name == "diamond"
    assert workflow.steps_total == workflow.steps_finished == 4
    assert [s.name for s in workflow.steps] == ["top", "left", "right", "bottom"]
    assert list(steps_of(workflow)["bottom"].input.ListFields()) == []  # BASIC view: no payloads
    [output] = response.outputs
    assert output.name == "bottom" and sorted(output.depends_on) == ["left", "right"]
    assert result(output.job) == {"mine": True, "side": "left", "size": 3, "who": "ada"}
    full = steps_of(await client.get_workflow(workflow.id, full=True))
    assert result(full["left"]) == {"side": "left", "size": 3}
    assert result(full["right"]) == {"side": "right", "who": "ada"}
    # Each step ran once, after its parents.
    assert all(job.attempt == 1 for job in full.values())
    assert full["bottom"].start_time.ToDatetime() >= max(
        full["left"].finish_time.ToDatetime(), full["right"].finish_time.ToDatetime()
    )


async def test_a_chain_of_100_runs_in_order(client: Client) -> None:
    steps = [workflow_step("s0", "echo", {"i": 0})]
    steps += [workflow_step(f"s{i}", "echo", {"i": i}, inputs={"prev": (f"s{i - 1}", "i")}) for i in range(1, 100)]
    started = time.monotonic()
    submitted = await client.submit_workflow(steps, timeout=10)
    assert submitted.steps[-1].job.state == WAITING and submitted.state == WF.WORKFLOW_STATE_RUNNING
    done = await wait_workflow(client, submitted.id, timeout=30)
    assert done.state == WF.WORKFLOW_STATE_SUCCEEDED, time.monotonic() - started
    jobs = steps_of(done)
    assert [result(jobs[f"s{i}"]) for i in (0, 1, 99)] == [{"i": 0}, {"i": 1, "prev": 0}, {"i": 99, "prev": 98}]
