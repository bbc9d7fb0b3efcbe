"""The benchmark scenarios: what each one sends, what it measures, and how its server is set up.

Each scenario's `run_once` measures one run against a server that is already up, and wraps
exactly its measurement window in `ctx.measure()` (CPU accounting, optional profiling).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bench.load import LoadResult, closed_loop, percentile
from bench.processes import ServerOptions
from jobsvc.client import Client, job_spec, to_payload
from jobsvc.v1 import job_pb2

HANDLER = "noop"
PAYLOAD = to_payload({"n": 1})
RPC_TIMEOUT = 30.0
# Far enough in the future that no submitted job becomes due while the scenario runs.
DELAY_SECONDS = 3600.0
SUBMIT_CALLERS = 32
BATCH_SIZE = 1000
E2E_BATCH_SIZE = 500
# The end-to-end producer stops adding batches while this many jobs wait, so that it
# keeps the executors busy without taking the server's CPU from them.
E2E_MAX_BACKLOG = 4000
E2E_BACKLOG_POLL = 0.05
E2E_MAX_PRODUCER_STEPS = 200_000
CALL_CALLERS = 64


@dataclass(frozen=True)
class Timing:
    """How long each part of a run lasts (seconds) or how many batches it sends."""

    duration: float  # Submit and Call loops
    warmup: float  # before every Submit and Call loop
    batches: int  # SubmitBatch
    e2e_window: float
    e2e_warmup: float


FULL = Timing(duration=5.0, warmup=0.5, batches=20, e2e_window=10.0, e2e_warmup=2.0)
QUICK = Timing(duration=1.0, warmup=0.2, batches=3, e2e_window=2.0, e2e_warmup=1.0)


@dataclass(frozen=True)
class Measure:
    """One figure of one run."""

    name: str
    unit: str
    value: float


@dataclass
class Outcome:
    """What one run of a scenario measured."""

    measures: list[Measure]
    cpu: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


MeasureWindow = Callable[[], contextlib.AbstractAsyncContextManager[dict[str, float]]]


@dataclass
class Context:
    """What a run gets: a client of the server, a pool on its database, the timings."""

    client: Client
    pool: asyncpg.Pool
    timing: Timing
    # Wraps the measurement window; yields a dict filled with cores used per party on exit.
    measure: MeasureWindow


RunOnce = Callable[[Context], Awaitable[Outcome]]


@dataclass(frozen=True)
class Scenario:
    """A named benchmark with its server settings."""

    name: str
    title: str
    server: ServerOptions
    run_once: RunOnce
    runs: int | None = None  # None: the --runs value


# -- Submit ---------------------------------------------------------------------------


async def _submit_one(client: Client) -> None:
    await client.submit(HANDLER, PAYLOAD, delay=DELAY_SECONDS, timeout=RPC_TIMEOUT)


async def submit_run(ctx: Context) -> Outcome:
    """Single-job Submit RPCs from SUBMIT_CALLERS concurrent callers."""
    await closed_loop(SUBMIT_CALLERS, ctx.timing.warmup, lambda _i: _submit_one(ctx.client))
    async with ctx.measure() as cores:
        load = await closed_loop(SUBMIT_CALLERS, ctx.timing.duration, lambda _i: _submit_one(ctx.client))
    _require_success(load)
    label = f"Submit, {SUBMIT_CALLERS} callers"
    return Outcome(
        [
            Measure(label, "jobs/s", load.rate),
            Measure(f"{label}: p50", "ms", load.percentile_ms(50)),
            Measure(f"{label}: p99", "ms", load.percentile_ms(99)),
        ],
        cores,
        _load_details(load),
    )


# -- SubmitBatch ------------------------------------------------------------------------


async def batch_run(ctx: Context) -> Outcome:
    """Batches of BATCH_SIZE delayed jobs, one after the other."""
    specs = [job_spec(HANDLER, PAYLOAD, delay=DELAY_SECONDS) for _ in range(BATCH_SIZE)]
    await _submit_batch(ctx.client, specs)  # warm-up
    latencies = []
    async with ctx.measure() as cores:
        start = time.perf_counter()
        for _ in range(ctx.timing.batches):
            sent = time.perf_counter()
            await _submit_batch(ctx.client, specs)
            latencies.append(time.perf_counter() - sent)
        elapsed = time.perf_counter() - start
    label = f"SubmitBatch of {BATCH_SIZE}"
    return Outcome(
        [
            Measure(label, "jobs/s", BATCH_SIZE * len(latencies) / elapsed),
            Measure(f"{label}: p50 per batch", "ms", percentile(latencies, 50) * 1000),
        ],
        cores,
        {"batches": len(latencies), "elapsed_s": elapsed},
    )


async def _submit_batch(client: Client, specs: list[job_pb2.JobSpec]) -> int:
    jobs = await client.submit_batch(specs, timeout=RPC_TIMEOUT)
    if len(jobs) != len(specs):
        raise RuntimeError(f"SubmitBatch returned {len(jobs)} jobs for {len(specs)}")
    return len(jobs)


# -- End-to-end -------------------------------------------------------------------------

COUNT_SUCCEEDED = "SELECT count(*) FROM jobsvc_jobs WHERE state = 'succeeded'"
COUNT_QUEUED = "SELECT count(*) FROM jobsvc_jobs WHERE state = 'queued'"
COUNT_FAILED = "SELECT count(*) FROM jobsvc_jobs WHERE state IN ('failed', 'cancelled')"


@dataclass
class _Producer:
    """Submits batches of due jobs until told to stop, keeping the backlog bounded."""

    client: Client
    pool: asyncpg.Pool
    submitted: int = 0
    waits: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        specs = [job_spec(HANDLER, PAYLOAD) for _ in range(E2E_BATCH_SIZE)]
        for _ in range(E2E_MAX_PRODUCER_STEPS):
            if self.stop.is_set():
                return
            if await self.pool.fetchval(COUNT_QUEUED) >= E2E_MAX_BACKLOG:
                self.waits += 1
                await asyncio.sleep(E2E_BACKLOG_POLL)
                continue
            self.submitted += await _submit_batch(self.client, specs)


async def _count(pool: asyncpg.Pool, sql: str) -> tuple[int, float]:
    """A count and the moment it was read."""
    value = await pool.fetchval(sql)
    return int(value), time.perf_counter()


@contextlib.asynccontextmanager
async def _producing(producer: _Producer) -> AsyncIterator[None]:
    """Run the producer for the duration of the block; its errors surface at the end."""
    task = asyncio.create_task(producer.run(), name="bench-producer")
    try:
        yield
    finally:
        producer.stop.set()
        try:
            await asyncio.wait_for(task, RPC_TIMEOUT + 5)
        finally:
            task.cancel()


def e2e_run(concurrency: int) -> RunOnce:
    """Jobs produced in batches while the server's executors (of `concurrency`) run them."""

    async def run_once(ctx: Context) -> Outcome:
        producer = _Producer(ctx.client, ctx.pool)
        async with _producing(producer):
            await asyncio.sleep(ctx.timing.e2e_warmup)
            async with ctx.measure() as cores:
                done0, t0 = await _count(ctx.pool, COUNT_SUCCEEDED)
                submitted0 = producer.submitted
                await asyncio.sleep(ctx.timing.e2e_window)
                done1, t1 = await _count(ctx.pool, COUNT_SUCCEEDED)
                submitted1 = producer.submitted
        backlog, _ = await _count(ctx.pool, COUNT_QUEUED)
        failed, _ = await _count(ctx.pool, COUNT_FAILED)
        if failed:
            raise RuntimeError(f"{failed} end-to-end job(s) failed or were cancelled")
        label = f"End-to-end, executor concurrency {concurrency}"
        return Outcome(
            [
                Measure(label, "jobs/s", (done1 - done0) / (t1 - t0)),
                Measure(f"{label}: produced", "jobs/s", (submitted1 - submitted0) / (t1 - t0)),
            ],
            cores,
            {
                "completed": done1 - done0,
                "window_s": t1 - t0,
                "backlog_after": backlog,
                "producer_waits": producer.waits,
            },
        )

    return run_once


# -- Call -----------------------------------------------------------------------------


async def _call_one(client: Client) -> None:
    job = await client.call(HANDLER, PAYLOAD, timeout=RPC_TIMEOUT)
    if job.state != job_pb2.JOB_STATE_SUCCEEDED:
        raise RuntimeError(f"job ended {job_pb2.JobState.Name(job.state)}")


def call_run(callers: int) -> RunOnce:
    """Calls to noop (submit and wait for the result) from `callers` concurrent callers."""

    async def run_once(ctx: Context) -> Outcome:
        await closed_loop(callers, ctx.timing.warmup, lambda _i: _call_one(ctx.client))
        async with ctx.measure() as cores:
            load = await closed_loop(callers, ctx.timing.duration, lambda _i: _call_one(ctx.client))
        _require_success(load)
        label = f"Call, {callers} caller{'s' if callers > 1 else ''}"
        return Outcome(
            [
                Measure(label, "calls/s", load.rate),
                Measure(f"{label}: p50", "ms", load.percentile_ms(50)),
                Measure(f"{label}: p99", "ms", load.percentile_ms(99)),
            ],
            cores,
            _load_details(load),
        )

    return run_once


# -- helpers --------------------------------------------------------------------------


def _require_success(load: LoadResult) -> None:
    if load.completed == 0:
        raise RuntimeError(f"no request succeeded; errors: {dict(load.errors)}")


def _load_details(load: LoadResult) -> dict[str, Any]:
    return {
        "completed": load.completed,
        "elapsed_s": load.elapsed,
        "errors": dict(load.errors),
        "workers": load.workers,
    }


def scenarios(e2e_concurrency: int, e2e_sweep: list[int], uvloop: bool) -> list[Scenario]:
    """Every scenario in the order they run."""
    delayed = ServerOptions(uvloop=uvloop)
    executing = ServerOptions(concurrency=e2e_concurrency, uvloop=uvloop)
    found = [
        Scenario(
            "submit",
            f"Submit from {SUBMIT_CALLERS} callers; jobs delayed 1 h, so the executor "
            f"(concurrency {delayed.concurrency}) has nothing to run",
            delayed,
            submit_run,
        ),
        Scenario("batch", f"SubmitBatch of {BATCH_SIZE}, sequential; jobs delayed 1 h, not run", delayed, batch_run),
        Scenario(
            "e2e",
            f"SubmitBatch of {E2E_BATCH_SIZE} (backlog capped at {E2E_MAX_BACKLOG}) while "
            f"the server's executor runs noop at concurrency {e2e_concurrency}",
            executing,
            e2e_run(e2e_concurrency),
        ),
    ]
    found += [
        Scenario(
            f"e2e_c{c}",
            f"End-to-end as above, executor concurrency {c} (one run)",
            ServerOptions(concurrency=c, uvloop=uvloop),
            e2e_run(c),
            runs=1,
        )
        for c in e2e_sweep
        if c != e2e_concurrency
    ]
    found += [
        Scenario(
            "call1", f"Sequential Calls to noop; executor concurrency {executing.concurrency}", executing, call_run(1)
        ),
        Scenario(
            f"call{CALL_CALLERS}",
            f"{CALL_CALLERS} concurrent callers of Call; executor concurrency {executing.concurrency}",
            executing,
            call_run(CALL_CALLERS),
        ),
    ]
    return found
