"""Workflows under kill -9: a replica holding every worker session, then a remote worker,
killed while steps run, joins and a fan-in wait; the workflow checker (W1-W4, with L4 and
L6 on the steps' jobs) finds nothing lost, nothing run that should not have, no join
doubled and nothing stuck. And the replica a parent parked on (waiting for its children),
killed with the children running there."""

from __future__ import annotations

import asyncio

import pytest

from jobsvc.sdk import Client, payload_value, workflow_step
from jobsvc.v1 import job_pb2, workflow_service_pb2
from tests.conftest import StartServer
from tests.faults.children import Children, Replica
from tests.faults.ledger import Ledger
from tests.faults.scenario import wait_until
from tests.faults.workflows import check_workflows

pytestmark = pytest.mark.slow

WF = workflow_service_pb2
TERMINAL = (job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_CANCELLED)


def fan_out(n: int) -> list[workflow_service_pb2.WorkflowStep]:
    """root (in-process) -> 5 mapped elements and a side step (remote) -> one join of all."""
    return [
        workflow_step("root", "echo", {"items": [{"sleep": 0.4 + 0.1 * i, "n": n} for i in range(5)]}),
        workflow_step("each", "fault_work", {}, map_over=("root", "items")),
        workflow_step("side", "fault_work", {"sleep": 0.8}, depends_on=["root"]),
        workflow_step("join", "fault_work", {"sleep": 0.2}, depends_on=["each", "side"]),
    ]


def diamond(n: int) -> list[workflow_service_pb2.WorkflowStep]:
    """a -> (b, c) -> d, every step on the remote workers."""
    return [
        workflow_step("a", "fault_work", {"sleep": 0.3, "n": n}),
        workflow_step("b", "fault_work", {"sleep": 0.9}, depends_on=["a"]),
        workflow_step("c", "fault_work", {"sleep": 0.6}, depends_on=["a"]),
        workflow_step("d", "fault_work", {"sleep": 0.1}, depends_on=["b", "c"]),
    ]


async def _sessions_on(replica: Replica, names: list[str]) -> bool:
    return all(replica.saw(f"worker session worker:{name}:") for name in names)


async def test_kill_9_of_a_replica_then_of_a_worker_mid_workflow(
    start_server: StartServer, children: Children, ledger: Ledger, ledger_dsn: str
) -> None:
    """Proves: steps running on workers whose sessions were on a replica that is kill -9'd,
    and then on a worker that is kill -9'd, are finished elsewhere (the workers fail over,
    the dead worker's leases are rescued); every workflow succeeds, each step ran after its
    parents, each join and fan-in exactly once, and nothing is stuck (W1-W4)."""
    doomed = await children.replica("replica-a")  # API only: the sessions' home
    survivor = await start_server()  # in-process: runs `echo`, rescues leases every 0.5 s
    both = f"ipv4:{doomed.address},127.0.0.1:{survivor.port}"
    workers = [await children.worker(both, name, lease=2.0, concurrency=4) for name in ("w0", "w1")]
    await wait_until(lambda: _sessions_on(doomed, ["w0", "w1"]), timeout=10, what="both sessions on replica-a")
    async with Client(f"127.0.0.1:{survivor.port}") as client:
        submitted = [await client.submit_workflow(fan_out(n), timeout=10) for n in range(4)]
        submitted += [await client.submit_workflow(diamond(n), timeout=10) for n in range(4)]
        ids = [w.id for w in submitted]
        await asyncio.sleep(1.0)  # roots done, elements and middles running on the workers
        ledger.fault("kill -9 replica", doomed.kill())
        await asyncio.sleep(1.5)  # the workers are back, on the survivor
        ledger.fault("kill -9 worker", workers[0].kill(), target="w0")
        await children.worker(f"127.0.0.1:{survivor.port}", "w2", lease=2.0, concurrency=4)
        counts = await check_workflows(ledger_dsn, ids, ledger.faults, drain_timeout=45)
        states = {w.id: (await client.get_workflow(w.id)).state for w in submitted}
    assert set(states.values()) == {WF.WORKFLOW_STATE_SUCCEEDED}, states
    assert counts["workflows"] == 8 and counts["steps"] == 4 * 9 + 4 * 4
    print(f"[faults] workflows under kill -9: {counts}")


async def test_kill_9_of_the_replica_a_parent_parked_on(start_server: StartServer, children: Children) -> None:
    """Proves: a parent that parked waiting for its children on a replica that is then
    kill -9'd (its children running there too) is not lost with it: the children's leases
    run out and another replica runs them again, and the last one to finish queues the
    parent, which resumes there with every child's result, exactly once."""
    doomed = await children.replica("replica-a", handlers=["tests.child_handlers"], concurrency=4, lease=2.0)
    async with Client(doomed.address) as client:
        parent = await client.submit("fan_out", {"xs": [1, 2, 3], "hold": 3.0})
        await wait_until(lambda: _parked_with_children_running(client, parent.id), timeout=20, what="parked")
    doomed.kill()
    survivor = await start_server(handler_modules=["tests.child_handlers"], name="survivor")
    async with Client(f"127.0.0.1:{survivor.port}") as client:
        await wait_until(lambda: _finished(client, parent.id), timeout=30, what="the parent to finish")
        done = await client.get(parent.id)
        assert done.state == job_pb2.JOB_STATE_SUCCEEDED, done.error
        assert payload_value(done.result) == {"squares": [1, 4, 9]}
        starts = [e.started.executor async for e in client.stream(parent.id) if e.WhichOneof("kind") == "started"]
        assert len(starts) == 2 and starts[0] != "survivor" and starts[1] == "survivor", starts
        kids = (await client.list_jobs(labels={"parent": parent.id})).jobs
        assert len(kids) == 3 and all(k.state == job_pb2.JOB_STATE_SUCCEEDED for k in kids)
        # Each child's first attempt died with its replica: its lease ran out.
        assert all(k.attempt == 2 and k.attempt_errors[0].type == "jobsvc.LeaseExpired" for k in kids), kids


async def _parked_with_children_running(client: Client, parent_id: str) -> bool:
    parent = await client.get(parent_id)
    kids = (await client.list_jobs(labels={"parent": parent_id})).jobs
    running = [k for k in kids if k.state == job_pb2.JOB_STATE_RUNNING]
    return parent.state == job_pb2.JOB_STATE_WAITING and len(running) == 3


async def _finished(client: Client, job_id: str) -> bool:
    return (await client.get(job_id)).state in TERMINAL
