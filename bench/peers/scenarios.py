"""The peers' scenarios: the same figures as jobsvc's where the peer has them.

- enqueue: one job per call from 1, 32 and 256 concurrent callers, then batches of 1,000
  (no consumer running, as jobsvc's Submit figures run with nothing due);
- e2e: the consumer process(es) run a no-op while the harness enqueues batches of 500,
  keeping at most 4,000 waiting (as jobsvc's end-to-end);
- call (Celery only): apply_async + get from 1 and 64 concurrent callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench.load import closed_loop
from bench.peers import Peer
from bench.processes import READY_TIMEOUT, require_alive
from bench.scenarios import (
    BATCH_SIZE,
    CALL_CALLERS,
    E2E_BACKLOG_POLL,
    E2E_BATCH_SIZE,
    E2E_MAX_BACKLOG,
    E2E_MAX_PRODUCER_STEPS,
    E2E_PRODUCERS,
    SUBMIT_CALLERS,
    Measure,
    MeasureWindow,
    Outcome,
    Timing,
    call_outcome,
)

# A consumer that has not finished its first job by then is broken.
CONSUMER_READY_TIMEOUT = READY_TIMEOUT * 2


@dataclass
class PeerContext:
    """What a peer run gets."""

    peer: Peer
    timing: Timing
    measure: MeasureWindow
    # The CPU probe's parties; the consumer's pids are put under "workers" while it runs.
    parties: dict[str, list[int]] = field(default_factory=dict)


PeerRunOnce = Callable[[PeerContext], Awaitable[Outcome]]


@dataclass(frozen=True)
class PeerScenario:
    """A named peer benchmark; `peer` names the module in bench.peers."""

    name: str
    title: str
    peer: str
    run_once: PeerRunOnce
    runs: int | None = None

    @property
    def system(self) -> str:
        """The system the figures belong to."""
        return self.peer


def _check_load(load: Any) -> None:
    if load.completed == 0:
        raise RuntimeError(f"no request succeeded; errors: {dict(load.errors)}")


async def enqueue_run(ctx: PeerContext) -> Outcome:
    """Single enqueues at 1, 32 and 256 concurrent callers, then sequential batches of 1,000."""
    peer = ctx.peer
    measures: list[Measure] = []
    details: dict[str, Any] = {}
    cpu: dict[str, float] = {}

    async def one(_i: int) -> None:
        await peer.enqueue_one()

    for callers in SUBMIT_CALLERS:
        await closed_loop(callers, ctx.timing.warmup, one)
        async with ctx.measure() as cores:
            load = await closed_loop(callers, ctx.timing.duration, one)
        _check_load(load)
        label = f"Enqueue one job, {callers} caller{'s' if callers > 1 else ''}"
        measures += [
            Measure(label, "jobs/s", load.rate, f"submit_{callers}"),
            Measure(f"{label}: p50", "ms", load.percentile_ms(50), f"submit_{callers}_p50"),
            Measure(f"{label}: p99", "ms", load.percentile_ms(99)),
        ]
        details[f"callers_{callers}"] = {"completed": load.completed, "errors": dict(load.errors)}
        if callers == max(SUBMIT_CALLERS):
            cpu = cores
    await peer.enqueue_batch(BATCH_SIZE)  # warm-up
    async with ctx.measure():
        start = time.perf_counter()
        for _ in range(ctx.timing.batches):
            await peer.enqueue_batch(BATCH_SIZE)
        elapsed = time.perf_counter() - start
    rate = BATCH_SIZE * ctx.timing.batches / elapsed
    measures.append(Measure(f"Batch enqueue of {BATCH_SIZE}", "jobs/s", rate, "batch_1000"))
    details["batches"] = ctx.timing.batches
    return Outcome(measures, cpu, details)


@contextlib.asynccontextmanager
async def consuming(ctx: PeerContext) -> AsyncIterator[None]:
    """The peer's consumer running, proven by one finished job; its pids in the CPU probe."""
    async with ctx.peer.consumer() as pids:
        ctx.parties["workers"] = pids
        ctx.parties["broker"] = list(ctx.peer.broker_pids)
        try:
            before = await ctx.peer.completed()
            await ctx.peer.enqueue_one()
            deadline = time.monotonic() + CONSUMER_READY_TIMEOUT
            while await ctx.peer.completed() <= before:
                require_alive(pids, f"{ctx.peer.name}'s consumer")
                if time.monotonic() > deadline:
                    message = f"{ctx.peer.name}'s consumer finished no job within {CONSUMER_READY_TIMEOUT:.0f} s"
                    raise RuntimeError(message)
                await asyncio.sleep(0.05)
            yield
        finally:
            ctx.parties.pop("workers", None)


async def e2e_run(ctx: PeerContext) -> Outcome:
    """The consumer runs a no-op while the harness enqueues batches (backlog capped)."""
    peer = ctx.peer
    stop = asyncio.Event()
    produced = [0, 0]  # jobs, waits

    async def produce() -> None:
        for _ in range(E2E_MAX_PRODUCER_STEPS):
            if stop.is_set():
                return
            if await peer.backlog() >= E2E_MAX_BACKLOG:
                produced[1] += 1
                await asyncio.sleep(E2E_BACKLOG_POLL)
                continue
            enqueued = await peer.enqueue_batch(E2E_BATCH_SIZE)
            produced[0] += enqueued  # not `+= await`: the loops would overwrite each other's counts

    async with consuming(ctx):
        task = asyncio.gather(*(produce() for _ in range(E2E_PRODUCERS)))
        try:
            await asyncio.sleep(ctx.timing.e2e_warmup)
            async with ctx.measure() as cores:
                done0, t0, sent0 = await peer.completed(), time.perf_counter(), produced[0]
                await asyncio.sleep(ctx.timing.e2e_window)
                done1, t1, sent1 = await peer.completed(), time.perf_counter(), produced[0]
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, 60)
            finally:
                task.cancel()
    label = f"End-to-end, {peer.name}"
    return Outcome(
        [
            Measure(label, "jobs/s", (done1 - done0) / (t1 - t0), "e2e"),
            Measure(f"{label}: produced", "jobs/s", (sent1 - sent0) / (t1 - t0)),
        ],
        cores,
        {"completed": done1 - done0, "window_s": t1 - t0, "producer_waits": produced[1]},
    )


async def call_run(ctx: PeerContext) -> Outcome:
    """Round trips (enqueue and wait for the result) from 1, then CALL_CALLERS, concurrent callers."""

    async def one(_i: int) -> None:
        await ctx.peer.call_one()

    outcomes = []
    async with consuming(ctx):
        for callers in (1, CALL_CALLERS):
            await closed_loop(callers, ctx.timing.warmup, one)
            async with ctx.measure() as cores:
                load = await closed_loop(callers, ctx.timing.duration, one)
            _check_load(load)
            outcomes.append(call_outcome(callers, load, cores))
    return Outcome(
        [m for outcome in outcomes for m in outcome.measures],
        outcomes[-1].cpu,
        {f"callers_{o.details['workers']}": o.details for o in outcomes},
    )


def peer_scenarios(names: list[str]) -> list[PeerScenario]:
    """The scenarios of the named peers, in order."""
    found: list[PeerScenario] = []
    for name in names:
        found += [
            PeerScenario(
                f"{name}_enqueue",
                f"{name}: enqueue one job from {', '.join(map(str, SUBMIT_CALLERS))} callers in turn, then batches "
                f"of {BATCH_SIZE}; no consumer running",
                name,
                enqueue_run,
            ),
            PeerScenario(
                f"{name}_e2e",
                f"{name}: batches of {E2E_BATCH_SIZE} from {E2E_PRODUCERS} producer loops "
                f"(backlog capped at {E2E_MAX_BACKLOG}) "
                "while its consumer runs a no-op",
                name,
                e2e_run,
            ),
        ]
        if name == "celery":
            found.append(
                PeerScenario(
                    "celery_call",
                    f"celery: apply_async + get (Redis result backend) from 1, then {CALL_CALLERS} callers",
                    name,
                    call_run,
                )
            )
    return found
