"""Flow control and schedules end to end: two replicas (and a remote worker) on one
database, real gRPC on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest

from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.sdk import Client, RemoteWorker, WorkerConfig, error_details, job_spec, payload_value
from jobsvc.server import JobsvcServer
from jobsvc.v1 import job_pb2
from tests.conftest import StartServer

MODULE = "tests.flow_handlers"


@pytest.fixture
async def replicas(start_server: StartServer) -> list[JobsvcServer]:
    return [await start_server(handler_modules=[MODULE]) for _ in range(2)]


@pytest.fixture
async def client(replicas: list[JobsvcServer]) -> AsyncIterator[Client]:
    async with Client(f"127.0.0.1:{replicas[0].port}") as c:
        yield c


@contextlib.asynccontextmanager
async def remote_worker(server: JobsvcServer) -> AsyncIterator[RemoteWorker]:
    table = HandlerTable(load_module(MODULE).handlers)
    worker = RemoteWorker(f"127.0.0.1:{server.port}", table, config=WorkerConfig(concurrency=4, lease_seconds=3.0))
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.connected.wait(), 10)
        yield worker
    finally:
        worker.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


async def wait_all_finished(client: Client, ids: list[str], timeout: float) -> list[job_pb2.Job]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        jobs = await asyncio.gather(*(client.get(i) for i in ids))
        if all(j.state == job_pb2.JOB_STATE_SUCCEEDED for j in jobs) or loop.time() > deadline:
            return list(jobs)
        await asyncio.sleep(0.2)


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


async def test_concurrency_limit_per_key_holds_across_replicas_and_a_worker(
    replicas: list[JobsvcServer], client: Client
) -> None:
    async with remote_worker(replicas[1]):
        jobs = await client.submit_batch([job_spec("limited", {"customer": f"c{i % 5}"}) for i in range(200)])
        queued = await client.get(jobs[-1].id)
        assert queued.concurrency_key in {f"c{i}" for i in range(5)}
        finished = await wait_all_finished(client, [j.id for j in jobs], timeout=60)
    assert [j.state for j in finished] == [job_pb2.JOB_STATE_SUCCEEDED] * 200
    per_key: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for job in finished:
        ran = payload_value(job.result)
        per_key[ran["customer"]].append((ran["start"], ran["end"]))
    assert sorted(per_key) == [f"c{i}" for i in range(5)]
    peaks = {key: max_overlap(intervals) for key, intervals in per_key.items()}
    assert max(peaks.values()) <= 3, peaks
    assert max(peaks.values()) == 3, f"the limit should also be reached: {peaks}"


async def test_a_missing_key_field_is_a_field_level_error(client: Client) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.submit("limited", {"not_customer": 1})
    details = error_details(caught.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert ("job.input.customer", "input field 'customer' is required by the key '{input.customer}'") in (
        details.field_violations
    )


async def test_rate_limit_holds_in_every_window_and_reaches_the_limit(
    replicas: list[JobsvcServer], client: Client, database_url: str
) -> None:
    jobs = await client.submit_batch([job_spec("metered", i) for i in range(100)])
    held_back = False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not held_back and loop.time() < deadline:
        listed = await client.list_jobs(states=[job_pb2.JOB_STATE_QUEUED], handler="metered", page_size=5)
        held_back = any(j.wait_reason == job_pb2.WAIT_REASON_RATE_LIMIT for j in listed.jobs)
    assert held_back, "a job held back by the rate limit says so in List"
    await wait_all_finished(client, [j.id for j in jobs], timeout=30)
    conn = await asyncpg.connect(database_url)
    try:
        starts = [
            r[0] for r in await conn.fetch("SELECT started_at FROM jobsvc_jobs WHERE handler = 'metered' ORDER BY 1")
        ]
    finally:
        await conn.close()
    for i, start in enumerate(starts):
        window = [s for s in starts[i:] if s - start < timedelta(seconds=1)]
        assert len(window) <= 20, f"{len(window)} starts in the second from {start}"
    rate = len(starts) / ((starts[-1] - starts[0]).total_seconds() + 1.0)
    assert rate >= 18, f"{rate:.1f} starts/s is under 90% of the limit"


async def test_one_tenant_flooding_does_not_starve_the_others(replicas: list[JobsvcServer], client: Client) -> None:
    flood = await client.submit_batch([job_spec("tenant_work", {"tenant": "noisy", "n": i}) for i in range(10_000)])
    small = await client.submit_batch(
        [job_spec("tenant_work", {"tenant": f"t{k}", "n": i}) for k in range(9) for i in range(10)]
    )
    await wait_all_finished(client, [j.id for j in small], timeout=60)
    page = await client.list_jobs(states=[job_pb2.JOB_STATE_SUCCEEDED], handler="tenant_work", page_size=1000)
    done_flood = sum(1 for j in page.jobs if payload_value(j.input)["tenant"] == "noisy")
    assert len(page.jobs) < 1000 or done_flood < 1000
    remaining = await client.list_jobs(states=[job_pb2.JOB_STATE_QUEUED], handler="tenant_work", page_size=1000)
    assert len(remaining.jobs) == 1000, "the nine tenants finished long before the flood drained"
    assert flood[0].fairness_key == "noisy"


async def test_a_schedule_ticks_exactly_once_per_tick_on_two_replicas(
    replicas: list[JobsvcServer], client: Client
) -> None:
    await client.create_schedule("every-second", "ticker", {"hello": 1}, every=1.0)
    await asyncio.sleep(6.5)
    ticks = await scheduled_ticks(client, "every-second")
    assert len(ticks) >= 5
    assert len(set(ticks)) == len(ticks), "one job per tick"
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(ticks)}
    assert gaps == {1.0}, f"no tick skipped or doubled: {gaps}"

    paused = await client.pause_schedule("every-second")
    assert paused.paused
    before = len(await scheduled_ticks(client, "every-second"))
    await asyncio.sleep(2.5)
    assert len(await scheduled_ticks(client, "every-second")) == before, "a paused schedule submits nothing"
    listed = await client.list_schedules()
    assert [s.name for s in listed] == ["every-second"]
    await client.delete_schedule("every-second")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.get_schedule("every-second")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def scheduled_ticks(client: Client, name: str) -> list[datetime]:
    page = await client.list_jobs(handler="ticker", page_size=1000)
    return sorted(
        datetime.fromisoformat(j.labels["jobsvc.tick"]) for j in page.jobs if j.labels.get("jobsvc.schedule") == name
    )


@pytest.mark.parametrize("policy", ["skip", "run_once"])
async def test_ticks_missed_while_every_replica_was_down_follow_the_policy(
    start_server: StartServer, database_url: str, policy: str
) -> None:
    first = await start_server(handler_modules=[MODULE])
    async with Client(f"127.0.0.1:{first.port}") as client:
        await client.create_schedule("catch-up", "ticker", None, every=2.0, missed_ticks=policy)
        ticks_before: list[datetime] = []
        for _ in range(50):  # the first tick comes within 2 s
            await asyncio.sleep(0.1)
            if ticks_before := await scheduled_ticks(client, "catch-up"):
                break
    await first.stop()
    down_from = datetime.now(UTC)
    await asyncio.sleep(4.0)
    await wait_until_tick_offset(1.5)  # restart well past the grace of the latest tick
    down_until = datetime.now(UTC)
    second = await start_server(handler_modules=[MODULE])
    async with Client(f"127.0.0.1:{second.port}") as client:
        await asyncio.sleep(0.3)
        ticks = await scheduled_ticks(client, "catch-up")
    missed = [t for t in ticks if down_from < t <= down_until]
    assert ticks_before, "the schedule ran before the outage"
    if policy == "skip":
        assert missed == []
    else:
        assert len(missed) == 1 and missed[0] == max(t for t in ticks if t <= down_until)


async def wait_until_tick_offset(offset: float, every: float = 2.0) -> None:
    now = datetime.now(UTC).timestamp()
    await asyncio.sleep((offset - now % every) % every)


async def test_resuming_or_pausing_a_schedule_already_so_changes_nothing(
    start_server: StartServer, database_url: str
) -> None:
    """A resume of an active schedule (a retry, a script run twice) must not move a due
    tick into the future: that would skip it whatever missed_ticks says."""
    server = await start_server(handler_modules=[MODULE])
    async with Client(f"127.0.0.1:{server.port}") as client:
        # Ticks 30 days apart: the next real one cannot come during the test.
        await client.create_schedule("monthly", "ticker", None, every=30 * 86400.0, missed_ticks="run_once")
        # As if every replica had been down at its tick: it is due, not yet submitted (the
        # tick loop, told of no change, sleeps on for up to 30 s).
        due = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("UPDATE jobsvc_schedules SET next_tick_at = $1 WHERE name = 'monthly'", due)
        finally:
            await conn.close()
        resumed = await client.resume_schedule("monthly", timeout=5)
        assert not resumed.paused and resumed.next_tick_time.ToDatetime(UTC) == due
        assert (await client.get_schedule("monthly")).next_tick_time.ToDatetime(UTC) == due
        paused = await client.pause_schedule("monthly", timeout=5)
        assert paused.paused and (await client.pause_schedule("monthly", timeout=5)).paused
