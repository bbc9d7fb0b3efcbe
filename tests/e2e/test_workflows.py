"""Workflows against real servers and PostgreSQL: outputs where declared, joins exactly
once across replicas, failure policies, cancel, and bad input."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from datetime import timedelta
from typing import Any

import asyncpg
import grpc
import pytest

from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.executor import ExecutorConfig
from jobsvc.sdk import Client, RemoteWorker, WorkerConfig, error_details, payload_value, workflow_step
from jobsvc.v1 import job_pb2, workflow_service_pb2
from tests.conftest import REPO, StartServer

WF = workflow_service_pb2
SUCCEEDED, FAILED, CANCELLED = job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_CANCELLED
WAITING = job_pb2.JOB_STATE_WAITING
README = (REPO / "README.md").read_text()


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


async def test_joins_run_exactly_once_when_both_parents_finish_together_on_two_replicas(
    start_server: StartServer, database_url: str
) -> None:
    # Each replica serves one parent of every join, and both parents return at the same
    # wall-clock instant: the last two decrements of every join race across replicas
    # (and within the batched outcome writes of each). 200 joins, in 4 rounds of 50.
    executor = ExecutorConfig(concurrency=64, poll_interval=1.0, lease_seconds=6.0)
    left = await start_server(handler_modules=["tests.handlers", "tests.workflow_left"], executor=executor)
    right = await start_server(handler_modules=["tests.handlers", "tests.workflow_right"], executor=executor)
    async with Client(f"127.0.0.1:{left.port}") as one, Client(f"127.0.0.1:{right.port}") as two:
        ids: list[str] = []
        for _ in range(4):
            at = time.time() + 0.6
            submitted = await asyncio.gather(
                *(
                    (one if n % 2 else two).submit_workflow(
                        [
                            workflow_step("a", "join_left", {"at": at, "n": n}),
                            workflow_step("b", "join_right", {"at": at, "n": n}),
                            workflow_step("join", "echo", {}, inputs={"a": ("a", "side"), "b": ("b", "side")}),
                        ],
                        timeout=10,
                    )
                    for n in range(50)
                )
            )
            ids += [w.id for w in submitted]
            for workflow_id in ids[-50:]:
                done = await wait_workflow(one, workflow_id)
                assert done.state == WF.WORKFLOW_STATE_SUCCEEDED
                join = steps_of(done)["join"]
                assert result(join) == {"a": "left", "b": "right"} and join.attempt == 1
    conn = await asyncpg.connect(database_url)
    try:
        # Exactly once: every join job was started once and finished once, and the two
        # parents really ran on different replicas.
        counts = await conn.fetch(
            """SELECT e.kind, count(*) AS n FROM jobsvc_job_events e
               JOIN jobsvc_workflow_steps s ON s.job_id = e.job_id AND s.name = 'join'
               GROUP BY e.kind ORDER BY e.kind"""
        )
        assert {r["kind"]: r["n"] for r in counts} == {"queued": 200, "started": 200, "succeeded": 200}
        owners = await conn.fetch(
            """SELECT DISTINCT e.data ->> 'executor' AS executor, j.handler FROM jobsvc_job_events e
               JOIN jobsvc_jobs j ON j.id = e.job_id
               WHERE j.handler IN ('join_left', 'join_right') AND e.kind = 'started'"""
        )
        assert len({r["executor"] for r in owners}) == 2
        assert await conn.fetchval("SELECT count(*) FROM jobsvc_workflow_steps WHERE pending <> 0") == 0
    finally:
        await conn.close()


async def test_a_failed_step_cancels_its_dependants_all_the_way_down(client: Client) -> None:
    response = await client.call_workflow(
        [
            workflow_step("a", "fail", 42),
            workflow_step("b", "echo", 1, depends_on=["a"]),
            workflow_step("c", "echo", 2, depends_on=["b"]),
            workflow_step("d", "echo", 3),
        ],
        timeout=20,
    )
    workflow = response.workflow
    assert workflow.state == WF.WORKFLOW_STATE_FAILED and workflow.steps_finished == 4
    jobs = steps_of(workflow)
    assert [jobs[name].state for name in "abcd"] == [FAILED, CANCELLED, CANCELLED, SUCCEEDED]
    assert jobs["b"].attempt == 0 and jobs["c"].attempt == 0  # never ran
    full = steps_of(await client.get_workflow(workflow.id, full=True))
    events = [e async for e in client.stream(job_id=full["c"].id)]
    assert events[-1].cancelled.reason == "step b cancelled"
    assert {o.name for o in response.outputs} == {"c", "d"}


async def test_an_optional_step_passes_its_error_in_place_of_its_result(client: Client) -> None:
    response = await client.call_workflow(
        [
            workflow_step("a", "fail", 42, optional=True),
            workflow_step("b", "echo", {"own": 1}, inputs={"upstream": "a"}),
        ],
        timeout=20,
    )
    assert response.workflow.state == WF.WORKFLOW_STATE_SUCCEEDED
    [b] = response.outputs
    upstream = result(b.job)["upstream"]
    assert upstream["error"]["type"] == "ValueError" and upstream["error"]["message"] == "bad value: 42"
    assert result(b.job)["own"] == 1


async def test_a_field_path_missing_from_the_result_fails_the_step_not_the_service(client: Client) -> None:
    response = await client.call_workflow(
        [
            workflow_step("a", "echo", {"x": {"y": 1}}),
            workflow_step("b", "echo", {}, inputs={"z": ("a", "x.nope")}),
            workflow_step("c", "echo", {}, depends_on=["b"]),
            workflow_step("d", "echo", {}, merge=[("a", "x.y")]),
        ],
        timeout=20,
    )
    jobs = steps_of(response.workflow)
    assert response.workflow.state == WF.WORKFLOW_STATE_FAILED
    assert [jobs[n].state for n in "abcd"] == [SUCCEEDED, FAILED, CANCELLED, FAILED]
    assert jobs["b"].error.type == "jobsvc.WorkflowInputMissing"
    assert jobs["b"].error.message == "field path x.nope is not in the result of step a"
    assert (
        jobs["d"].error.message == "the value taken from step a is a JSON number, not an object to merge into the input"
    )
    # The service carries on.
    assert (await client.call("echo", 7, timeout=10)).state == SUCCEEDED


async def test_cancel_workflow_stops_running_steps_and_cancels_waiting_ones(client: Client) -> None:
    workflow = await client.submit_workflow(
        [
            workflow_step("a", "wait_cancel"),
            workflow_step("b", "echo", 1, depends_on=["a"]),
            workflow_step("later", "echo", 1, delay=3600),
        ],
        timeout=10,
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while steps_of(await client.get_workflow(workflow.id))["a"].state != job_pb2.JOB_STATE_RUNNING:
        assert loop.time() < deadline
        await asyncio.sleep(0.05)
    cancelled = await client.cancel_workflow(workflow.id, "enough")
    assert cancelled.cancel_reason == "enough"
    jobs = steps_of(cancelled)
    assert jobs["b"].state == CANCELLED and jobs["later"].state == CANCELLED
    done = await wait_workflow(client, workflow.id)
    assert done.state == WF.WORKFLOW_STATE_CANCELLED
    assert steps_of(done)["a"].state == CANCELLED
    # Again: nothing changes, no error.
    assert (await client.cancel_workflow(workflow.id, "again")).cancel_reason == "enough"


async def test_get_and_list_workflows(client: Client) -> None:
    first = await client.submit_workflow([workflow_step("only", "echo", 1)], name="first", labels={"team": "a"})
    second = await client.submit_workflow([workflow_step("only", "echo", 2)], name="second")
    page = await client.list_workflows(page_size=1)
    assert [w.name for w in page.workflows] == ["second"] and page.next_page_token
    assert not page.workflows[0].steps and page.workflows[0].steps_total == 1
    rest = await client.list_workflows(page_size=10, page_token=page.next_page_token)
    assert [w.id for w in rest.workflows] == [first.id] and not rest.next_page_token
    assert dict(rest.workflows[0].labels) == {"team": "a"}
    await wait_workflow(client, second.id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.get_workflow("6d9c1e52-8d7e-4a57-9d0e-9d63d7f6b3a1")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def bad(*steps: WF.WorkflowStep) -> list[WF.WorkflowStep]:
    return list(steps)


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        (
            bad(
                workflow_step("a", "echo", depends_on=["c"]),
                workflow_step("b", "echo", depends_on=["a"]),
                workflow_step("c", "echo", depends_on=["b"]),
            ),
            "steps[0].depends_on",
            "a cycle: a <- c <- b <- a",
        ),
        (bad(workflow_step("a", "echo", depends_on=["a"])), "steps[0].depends_on[0]", "cannot depend on itself"),
        (bad(workflow_step("a", "echo", depends_on=["nope"])), "steps[0].depends_on[0]", "no step named 'nope'"),
        (bad(workflow_step("a", "echo"), workflow_step("a", "echo")), "steps[1].name", "also steps[0]"),
        (bad(workflow_step("a b", "echo")), "steps[0].name", "letters, digits"),
        (bad(workflow_step("a", "echo"), workflow_step("b", "nope")), "steps[1].job.handler", "no handler named"),
        (bad(workflow_step("a", "echo", version="^9")), "steps[0].job.version", "no version matching"),
        (bad(workflow_step("a", "greet", {"name": 5})), "steps[0].job.input.name", "is not of type"),
        (bad(workflow_step("a", "echo", idempotency_key="k")), "steps[0].job.idempotency_key", "not allowed"),
        (
            [
                workflow_step("a", "echo"),
                WF.WorkflowStep(name="b", job=workflow_step("x", "echo").job, inputs=[WF.StepInput(step="a")]),
            ],
            "steps[1].inputs[0].step",
            "not in depends_on",
        ),
        (
            bad(workflow_step("a", "echo"), workflow_step("b", "echo", 5, inputs={"k": "a"})),
            "steps[1].job.input",
            "object",
        ),
        ([], "steps", "at least one step"),
    ],
)
async def test_bad_workflows_are_refused_before_anything_is_stored(
    client: Client, steps: list[WF.WorkflowStep], field: str, words: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.submit_workflow(steps, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    violations = error_details(caught.value).field_violations
    assert violations[0][0] == field and words in violations[0][1], violations
    assert not (await client.list_workflows()).workflows
    assert not (await client.list_jobs()).jobs


async def test_the_step_limit(client: Client) -> None:
    # 10,000 steps are accepted in one RPC and run to completion (one root, a fan-out of
    # 9,998, one join of them all); 10,001 and 100,001 are refused.
    middle = [f"m{i}" for i in range(9_998)]
    steps = [workflow_step("root", "echo", 0)]
    steps += [workflow_step(name, "echo", 1, depends_on=["root"]) for name in middle]
    steps.append(workflow_step("join", "echo", {}, depends_on=middle))
    started = time.monotonic()
    response = await client.call_workflow(steps, timeout=120)
    elapsed = time.monotonic() - started
    assert response.workflow.state == WF.WORKFLOW_STATE_SUCCEEDED and response.workflow.steps_finished == 10_000
    assert [o.name for o in response.outputs] == ["join"]
    print(f"10,000-step fan-out/fan-in: {elapsed:.2f} s, {10_000 / elapsed:.0f} steps/s")
    for count in (10_001, 100_001):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.submit_workflow([workflow_step(f"s{i}", "echo") for i in range(count)], timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(caught.value).field_violations == [("steps", "at most 10000 steps")]


async def test_the_readme_example_runs_as_written(client: Client) -> None:
    match = re.search(r"<!-- workflow-example -->\n```python\n(.*?)```", README, re.DOTALL)
    assert match, "README.md has no code block marked workflow-example"
    namespace: dict[str, Any] = {}
    exec(compile(match[1], "README.md", "exec"), namespace)
    await namespace["main"](client)


async def test_a_fan_out_of_1000_and_its_fan_in_receive_results_in_order(client: Client) -> None:
    # list -> each (one job per element, the element under "n") -> total (takes the list
    # of their results, in list order).
    response = await client.call_workflow(
        [
            workflow_step("list", "echo", {"items": list(range(1000))}),
            workflow_step("each", "echo", {"tag": "x"}, map_over=("list", "items"), map_key="n", max_items=1000),
            workflow_step("total", "echo", {}, inputs={"all": "each"}),
        ],
        timeout=60,
    )
    assert response.workflow.state == WF.WORKFLOW_STATE_SUCCEEDED
    assert response.workflow.steps_total == response.workflow.steps_finished == 1003
    [total] = response.outputs
    assert result(total.job)["all"] == [{"tag": "x", "n": n} for n in range(1000)]
    elements = [s for s in response.workflow.steps if s.map_of == "each"]
    assert [s.item for s in elements] == list(range(1000)) and elements[7].name == "each[7]"
    assert all(s.job.attempt == 1 for s in elements)


async def test_a_map_over_too_long_a_list_or_no_list_fails_the_step(client: Client) -> None:
    response = await client.call_workflow(
        [
            workflow_step("list", "echo", {"items": [1, 2, 3], "one": 1}),
            workflow_step("short", "echo", {}, map_over=("list", "items"), map_key="n", max_items=2),
            workflow_step("scalar", "echo", {}, map_over=("list", "one"), map_key="n"),
            workflow_step("empty", "echo", {"items": []}),
            workflow_step("none", "echo", {}, map_over=("empty", "items"), map_key="n"),
            workflow_step("merged", "echo", {}, map_over=("list", "items")),
        ],
        timeout=20,
    )
    jobs = steps_of(response.workflow)
    assert jobs["short"].state == FAILED and jobs["short"].error.type == "jobsvc.WorkflowMapTooLong"
    assert jobs["short"].error.message == "the list of step list has 3 elements, over this step's max_items of 2"
    assert jobs["scalar"].error.message == "step list has no list at one to map over"
    assert jobs["merged"].error.message == (
        "the list of step list holds elements that are not objects to merge into the input (give map.key)"
    )
    full = steps_of(await client.get_workflow(response.workflow.id, full=True))
    assert full["none"].state == SUCCEEDED and result(full["none"]) == []
    assert not [s for s in response.workflow.steps if s.map_of]


async def test_a_failed_element_fails_its_workflow_and_cancels_the_fan_in(client: Client) -> None:
    response = await client.call_workflow(
        [
            workflow_step("list", "echo", {"items": [1, 2]}),
            workflow_step("each", "fail", None, map_over=("list", "items"), map_key="n"),
            workflow_step("after", "echo", {}, depends_on=["each"]),
        ],
        timeout=20,
    )
    jobs = steps_of(response.workflow)
    assert response.workflow.state == WF.WORKFLOW_STATE_FAILED
    assert jobs["each[0]"].state == FAILED and jobs["each"].state == CANCELLED and jobs["after"].state == CANCELLED


async def test_steps_run_on_a_remote_worker_joins_and_cancels_included(start_server: StartServer) -> None:
    # The replica runs join_left in-process; a remote worker runs everything else (echo,
    # join_right, wait_cancel): the two parents of each join finish together, one on
    # each, and a cancelled workflow stops the step running on the worker.
    server = await start_server(handler_modules=["tests.workflow_left"])
    table = HandlerTable([*load_module("tests.handlers").handlers, *load_module("tests.workflow_right").handlers])
    worker = RemoteWorker(
        f"127.0.0.1:{server.port}",
        table,
        config=WorkerConfig(worker_id="remote", lease_seconds=3.0, shutdown_grace=1.0, concurrency=64),
        resources={"greeting": "hi"},
    )
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.connected.wait(), 10)
        async with Client(f"127.0.0.1:{server.port}") as client:
            at = time.time() + 0.5
            workflows = await asyncio.gather(
                *(
                    client.submit_workflow(
                        [
                            workflow_step("a", "join_left", {"at": at, "n": n}),
                            workflow_step("b", "join_right", {"at": at, "n": n}),
                            workflow_step("join", "echo", {}, inputs={"a": ("a", "n"), "b": ("b", "n")}),
                        ]
                    )
                    for n in range(30)
                )
            )
            for n, submitted in enumerate(workflows):
                jobs = steps_of(await wait_workflow(client, submitted.id))
                assert result(jobs["join"]) == {"a": n, "b": n} and jobs["join"].attempt == 1
            events = [e async for e in client.stream(job_id=jobs["b"].id)]
            assert events[1].started.executor.startswith("worker:remote:")
            running = await client.submit_workflow(
                [workflow_step("wait", "wait_cancel"), workflow_step("after", "echo", depends_on=["wait"])]
            )
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while steps_of(await client.get_workflow(running.id))["wait"].state != job_pb2.JOB_STATE_RUNNING:
                assert loop.time() < deadline
                await asyncio.sleep(0.05)
            await client.cancel_workflow(running.id, "stop")
            done = await wait_workflow(client, running.id)
            assert done.state == WF.WORKFLOW_STATE_CANCELLED
            assert [s.job.state for s in done.steps] == [CANCELLED, CANCELLED]
    finally:
        worker.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


async def test_cancel_job_on_a_waiting_step_cancels_what_depends_on_it(client: Client) -> None:
    workflow = await client.submit_workflow(
        [
            workflow_step("slow", "sleepy", {"seconds": 0.3}),
            workflow_step("mid", "echo", 1, depends_on=["slow"]),
            workflow_step("end", "echo", 2, depends_on=["mid"]),
        ]
    )
    mid = steps_of(workflow)["mid"]
    assert mid.state == WAITING
    assert (await client.cancel(mid.id, "not needed")).state == CANCELLED
    done = await wait_workflow(client, workflow.id)
    assert [s.job.state for s in done.steps] == [SUCCEEDED, CANCELLED, CANCELLED]
    assert done.state == WF.WORKFLOW_STATE_CANCELLED


async def test_crossing_joins_finish_without_deadlock_or_repeat(start_server: StartServer, database_url: str) -> None:
    # Four parents per workflow (two on each replica) finishing at one instant, and a join
    # for every pair of them: each outcome batch counts parents off many joins at once, in
    # crossing orders across the two replicas' batches.
    executor = ExecutorConfig(concurrency=64, poll_interval=1.0, lease_seconds=6.0)
    left = await start_server(handler_modules=["tests.handlers", "tests.workflow_left"], executor=executor)
    await start_server(handler_modules=["tests.handlers", "tests.workflow_right"], executor=executor)
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    async with Client(f"127.0.0.1:{left.port}") as client:
        at = time.time() + 0.8
        submitted = await asyncio.gather(
            *(
                client.submit_workflow(
                    [workflow_step(f"p{i}", ("join_left", "join_right")[i % 2], {"at": at, "n": i}) for i in range(4)]
                    + [
                        workflow_step(f"j{i}{j}", "echo", {}, inputs={"x": (f"p{i}", "n"), "y": (f"p{j}", "n")})
                        for i, j in pairs
                    ]
                )
                for _ in range(40)
            )
        )
        for workflow in submitted:
            jobs = steps_of(await wait_workflow(client, workflow.id))
            assert [result(jobs[f"j{i}{j}"]) for i, j in pairs] == [{"x": i, "y": j} for i, j in pairs]
    conn = await asyncpg.connect(database_url)
    try:
        starts = await conn.fetchval("SELECT count(*) FROM jobsvc_job_events WHERE kind = 'started'")
        assert starts == 40 * 10  # every step started once: no outcome write was lost or repeated
    finally:
        await conn.close()


async def test_a_step_past_its_deadline_fails_and_cancels_its_dependants(client: Client) -> None:
    # The deadline path (maintenance, not an outcome write) applies the failure policy too.
    hung = workflow_step("hung", "wait_cancel")
    hung.job.execution_timeout.FromTimedelta(timedelta(seconds=0.5))
    workflow = await client.submit_workflow([hung, workflow_step("next", "echo", {}, depends_on=["hung"])])
    done = await wait_workflow(client, workflow.id)
    jobs = steps_of(done)
    assert jobs["hung"].state == FAILED and jobs["hung"].error.type == "jobsvc.DeadlineExceeded"
    assert jobs["next"].state == CANCELLED and done.state == WF.WORKFLOW_STATE_FAILED
