"""The dispatch engine's Lane on its own, against a real store, with a fake consumer:
claims up to capacity, lease rounds that race settlements, lost leases, cancel requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from jobsvc.app.dispatch import CANCELLED, LEASE_LOST, Lane, LaneConfig, Settler, Succeed
from jobsvc.domain.jobs import Claim, HandlerSpec, JobSpec, JobState, NewJob, Payload
from jobsvc.observability.metrics import Metrics
from jobsvc.store.postgres import PgStore, create_pool

SERVED = ("echo@1.0.0",)
TIMEOUT = 10.0


class FakeConsumer:
    """Records what the lane hands over and asks; lets go of a stopped attempt at once
    (as a worker session does)."""

    def __init__(self) -> None:
        self.lane: Lane | None = None
        self.delivered: list[Claim] = []
        self.stops: list[tuple[str, str, str]] = []
        self.stopped = asyncio.Event()
        self.is_alive = True
        self.announced = 0

    async def deliver(self, claim: Claim) -> None:
        self.delivered.append(claim)

    def stop_attempt(self, job_id: str, token: str, reason: str) -> None:
        self.stops.append((job_id, token, reason))
        self.stopped.set()
        assert self.lane is not None
        self.lane.release(job_id, token)

    def alive(self) -> bool:
        return self.is_alive

    async def announce(self) -> None:
        self.announced += 1


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PgStore]:
    pool = await create_pool(database_url, min_size=1, max_size=10)
    try:
        s = PgStore(pool)
        await s.handler_register([HandlerSpec("echo", "1.0.0")])
        yield s
    finally:
        await pool.close()


Build = Callable[..., tuple[Lane, FakeConsumer]]


@pytest.fixture
def build(store: PgStore) -> Build:
    due: list[datetime | None] = []
    settler = Settler(store, Metrics(), due.append)

    def make(**config: Any) -> tuple[Lane, FakeConsumer]:
        options: dict[str, Any] = {
            "owner": "lane-test",
            "served": SERVED,
            "capacity": 3,
            "lease_seconds": 0.3,  # lease rounds every 0.1 s
            "poll_interval": 0.1,
        }
        options.update(config)
        consumer = FakeConsumer()
        lane = Lane(store, settler, Metrics(), consumer, LaneConfig(**options))
        consumer.lane = lane
        return lane, consumer

    return make


async def _submit(store: PgStore, count: int) -> list[str]:
    jobs = [NewJob(JobSpec("echo", "", Payload(json=i)), "1.0.0") for i in range(count)]
    return [job.id for job, _ in await store.job_insert_many(jobs)]


async def _state(store: PgStore, job_id: str) -> JobState:
    job = await store.job_get(job_id)
    assert job is not None
    return job.state


async def test_claims_up_to_the_free_capacity_and_again_when_a_slot_frees(store: PgStore, build: Build) -> None:
    """Proves: a claim round claims no more than the free capacity; with every slot held
    it claims nothing; settling one attempt frees a slot that the next round fills."""
    lane, consumer = build(capacity=3)
    await _submit(store, 10)
    await lane.claim_round()
    assert len(consumer.delivered) == 3 and len(lane.held) == 3
    await lane.claim_round()  # full: nothing claimed
    assert len(consumer.delivered) == 3
    first = consumer.delivered[0]
    assert await lane.settle(first.job.id, first.attempt_token, Succeed(Payload(json="done")))
    assert await _state(store, first.job.id) is JobState.SUCCEEDED
    assert first.job.id not in lane.held
    await asyncio.wait_for(lane.claim_round(), TIMEOUT)
    assert len(consumer.delivered) == 4 and len(lane.held) == 3
    assert not consumer.stops


class HeldExtension:
    """Wraps the store's lease extensions: the next call waits until opened."""

    def __init__(self, store: PgStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered, self.opened = asyncio.Event(), asyncio.Event()
        self.seen: list[str] = []
        extend = store.job_lease_extend

        async def held_extend(leases: Sequence[tuple[str, str]], seconds: float) -> dict[str, Any]:
            self.seen = [job_id for job_id, _ in leases]
            self.entered.set()
            await asyncio.wait_for(self.opened.wait(), TIMEOUT)
            return await extend(leases, seconds)

        monkeypatch.setattr(store, "job_lease_extend", held_extend)


async def test_a_lease_round_never_stops_an_attempt_settled_during_its_extension(
    store: PgStore, build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves: when an attempt is settled between a lease round's snapshot of the held
    attempts and the answer of its extension (which then no longer finds it), the
    consumer is not told to stop it."""
    lane, consumer = build()
    [job_id] = await _submit(store, 1)
    await lane.claim_round()
    [claim] = consumer.delivered
    held = HeldExtension(store, monkeypatch)
    keeper = asyncio.create_task(lane.lease_round())
    await asyncio.wait_for(held.entered.wait(), TIMEOUT)  # the round holds its snapshot
    assert held.seen == [job_id]
    assert await lane.settle(job_id, claim.attempt_token, Succeed(Payload(json="done")))
    held.opened.set()
    await asyncio.wait_for(keeper, TIMEOUT)
    assert await _state(store, job_id) is JobState.SUCCEEDED
    assert not consumer.stops, "a settled attempt was stopped as lost"


async def test_a_lease_round_never_stops_an_attempt_whose_settlement_is_in_flight(
    store: PgStore, build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves: an attempt whose outcome has committed but whose settlement has not
    returned when the lease round's extension answers (without it) is not stopped."""
    lane, consumer = build()
    [job_id] = await _submit(store, 1)
    await lane.claim_round()
    [claim] = consumer.delivered
    committed, round_done = asyncio.Event(), asyncio.Event()
    finish = store.job_finish

    async def slow_finish(*args: Any, **kw: Any) -> Any:
        change = await finish(*args, **kw)
        committed.set()
        await asyncio.wait_for(round_done.wait(), TIMEOUT)  # still settling meanwhile
        return change

    monkeypatch.setattr(store, "job_finish", slow_finish)
    settling = asyncio.create_task(lane.settle(job_id, claim.attempt_token, Succeed(Payload(json="done"))))
    await asyncio.wait_for(committed.wait(), TIMEOUT)
    await asyncio.wait_for(lane.lease_round(), TIMEOUT)  # its extension no longer finds the job
    round_done.set()
    assert await asyncio.wait_for(settling, TIMEOUT)
    assert not consumer.stops, "an attempt being settled was stopped as lost"
    assert job_id not in lane.held


async def test_a_lost_lease_stops_the_attempt(store: PgStore, build: Build, database_url: str) -> None:
    """Proves: when the store no longer holds an attempt's lease (it ran out and was
    rescued), the next lease round tells the consumer to stop it, and frees its slot."""
    lane, consumer = build()
    [job_id] = await _submit(store, 1)
    await lane.claim_round()
    [claim] = consumer.delivered
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE jobsvc_jobs SET lease_expires_at = now() - interval '1 second'")
    finally:
        await conn.close()
    [rescued] = await store.job_rescue_expired(10)
    assert rescued.job_id == job_id
    await asyncio.wait_for(lane.lease_round(), TIMEOUT)
    assert consumer.stops == [(job_id, claim.attempt_token, LEASE_LOST)]
    assert not lane.held
    # A heartbeat naming the stopped attempt afterwards is not answered with a second stop.
    await lane.heartbeat([(job_id, claim.attempt_token)])
    assert len(consumer.stops) == 1


@pytest.mark.parametrize("cancel_first", [False, True], ids=["consumer-settles", "lane-writes-first"])
async def test_a_cancel_request_reaches_the_consumer(store: PgStore, build: Build, cancel_first: bool) -> None:
    """Proves: a cancel request (the listener's fan-out) tells the consumer to stop the
    attempt with CANCELLED; a lane that writes the cancel first has the job CANCELLED
    before the consumer hears. The same happens when the notification was missed: the
    next lease round finds the request."""
    lane, consumer = build(cancel_first=cancel_first)
    first, second = await _submit(store, 2)
    await lane.claim_round()
    tokens = {c.job.id: c.attempt_token for c in consumer.delivered}
    await store.job_cancel(first, "by the test")
    lane.on_cancel_request(first)
    await asyncio.wait_for(consumer.stopped.wait(), TIMEOUT)
    assert consumer.stops == [(first, tokens[first], CANCELLED)]
    if cancel_first:
        assert await _state(store, first) is JobState.CANCELLED
    consumer.stopped.clear()
    await store.job_cancel(second, "by the test")  # no notification this time
    await asyncio.wait_for(lane.lease_round(), TIMEOUT)
    await asyncio.wait_for(consumer.stopped.wait(), TIMEOUT)
    assert consumer.stops[1:] == [(second, tokens[second], CANCELLED)]
    assert not lane.held


async def test_a_cancel_request_never_stops_an_attempt_being_settled(store: PgStore, build: Build) -> None:
    """Proves: a cancel request arriving while the attempt's settlement is being written
    does not stop it (the settlement decides)."""
    lane, consumer = build()
    [job_id] = await _submit(store, 1)
    await lane.claim_round()
    [claim] = consumer.delivered
    with lane.settling_block(job_id, claim.attempt_token):
        lane.on_cancel_request(job_id)
        await asyncio.sleep(0.05)
    assert not consumer.stops


async def test_a_silent_consumer_keeps_no_leases(store: PgStore, build: Build) -> None:
    """Proves: while the consumer is not heard from, lease rounds extend nothing."""
    lane, consumer = build()
    await _submit(store, 1)
    await lane.claim_round()
    consumer.is_alive = False
    await asyncio.wait_for(lane.lease_round(), TIMEOUT)
    assert consumer.announced == 0 and not consumer.stops
