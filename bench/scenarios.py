"""The benchmark scenarios: what each one sends, what it measures, and how its server is set up.

Each scenario's `run_once` measures one run against a server that is already up, and wraps
exactly its measurement window in `ctx.measure()` (CPU accounting, optional profiling).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import grpc

from bench.dbstats import DbStats
from bench.load import LoadResult, closed_loop, percentile
from bench.processes import (
    READY_TIMEOUT,
    ServerOptions,
    ServerProcess,
    child_process,
    log_has_word,
    require_running,
    rss_mib,
)
from jobsvc.sdk import Client, job_spec, to_payload, workflow_step
from jobsvc.v1 import job_pb2, operation_service_pb2, workflow_service_pb2

HANDLER = "noop"
PAYLOAD = to_payload({"n": 1})
RPC_TIMEOUT = 30.0
# Far enough in the future that no submitted job becomes due while the scenario runs.
DELAY_SECONDS = 3600.0
SUBMIT_CALLERS = (1, 32, 256)
BATCH_SIZE = 1000
E2E_BATCH_SIZE = 500
# The end-to-end producer stops adding batches while this many jobs wait, so that it
# keeps the executors busy without taking the server's CPU from them.
E2E_MAX_BACKLOG = 4000
E2E_BACKLOG_POLL = 0.05
E2E_MAX_PRODUCER_STEPS = 200_000
# Concurrent producer loops (more with more server processes): one loop alone could not keep
# the backlog full when the consumers were faster than its sequential batches.
E2E_PRODUCERS = 2
CALL_CALLERS = 64
STREAM_CONCURRENCY = 64
IDLE_WORKERS = 100
REMOTE_WORKERS = 2
REMOTE_WORKER_CONCURRENCY = 64
GO_WORKERS = 1
GO_WORKER_CONCURRENCY = 128
# Channels (TCP connections) the waiting Calls and open streams are spread over.
MEMORY_CHANNELS = 16
MEMORY_OPENING = 250
SCALING = (1, 2, 4)


@dataclass(frozen=True)
class Timing:
    """How long each part of a run lasts (seconds) or how many batches it sends."""

    duration: float  # Submit, Call and Stream loops
    warmup: float  # before every Submit and Call loop
    batches: int  # SubmitBatch
    e2e_window: float
    e2e_warmup: float
    idle_window: float  # idle database load
    idle_settle: float  # before the idle window
    calls_waiting: int  # memory with this many waiting Calls
    streams_open: int  # memory with this many open streams
    stream_events: int  # progress events per streamed job
    workflow_steps: int  # steps of the fan-out/fan-in workflows (and plain jobs beside them)
    chain_steps: int  # steps of the chain whose edges are timed
    dead_jobs: int  # dead-lettered jobs a bulk redrive re-runs beside the end-to-end load


FULL = Timing(
    duration=5.0,
    warmup=0.5,
    batches=20,
    e2e_window=10.0,
    e2e_warmup=2.0,
    idle_window=20.0,
    idle_settle=3.0,
    calls_waiting=10_000,
    streams_open=1000,
    stream_events=2000,
    workflow_steps=10_000,
    chain_steps=200,
    dead_jobs=100_000,
)
QUICK = Timing(
    duration=0.5,
    warmup=0.1,
    batches=1,
    e2e_window=1.0,
    e2e_warmup=0.5,
    idle_window=1.0,
    idle_settle=0.2,
    calls_waiting=200,
    streams_open=50,
    stream_events=20,
    workflow_steps=500,
    chain_steps=20,
    dead_jobs=1_000,
)


@dataclass(frozen=True)
class Measure:
    """One figure of one run; `key` names the figure of the comparison table it is (bench.figures)."""

    name: str
    unit: str
    value: float
    key: str = ""


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
    # Every server process of the scenario (one unless ServerOptions.processes says more).
    servers: list[ServerProcess] = field(default_factory=list)
    # Clients with a connection of their own, one per server process (SO_REUSEPORT spreads them).
    clients: list[Client] = field(default_factory=list)
    stats: DbStats | None = None
    logs: Path = Path("/tmp")

    @property
    def client_target(self) -> str:
        """host:port of the (first) server."""
        return self.servers[0].target


RunOnce = Callable[[Context], Awaitable[Outcome]]


@dataclass(frozen=True)
class Scenario:
    """A named benchmark with its server settings."""

    name: str
    title: str
    server: ServerOptions
    run_once: RunOnce
    runs: int | None = None  # None: the --runs value
    system: str = "jobsvc"
    # Start the server(s) anew for every run (memory: RSS never shrinks back after a run).
    fresh_server_per_run: bool = False
    # Seconds one run may take at most (None: bench.run's RUN_TIMEOUT).
    run_timeout: float | None = None


# -- Submit ---------------------------------------------------------------------------


async def _submit_one(client: Client) -> None:
    await client.submit(HANDLER, PAYLOAD, delay=DELAY_SECONDS, timeout=RPC_TIMEOUT)


async def submit_run(ctx: Context) -> Outcome:
    """Single-job Submit RPCs from 1, 32 and 256 concurrent callers, one loop after the other."""
    measures: list[Measure] = []
    details: dict[str, Any] = {}
    cpu: dict[str, float] = {}
    for callers in SUBMIT_CALLERS:
        await closed_loop(callers, ctx.timing.warmup, lambda _i: _submit_one(ctx.client))
        async with ctx.measure() as cores:
            load = await closed_loop(callers, ctx.timing.duration, lambda _i: _submit_one(ctx.client))
        _require_success(load)
        label = f"Submit, {callers} caller{'s' if callers > 1 else ''}"
        measures += [
            Measure(label, "jobs/s", load.rate, f"submit_{callers}"),
            Measure(f"{label}: p50", "ms", load.percentile_ms(50), f"submit_{callers}_p50"),
            Measure(f"{label}: p99", "ms", load.percentile_ms(99)),
        ]
        details[f"callers_{callers}"] = _load_details(load)
        if callers == max(SUBMIT_CALLERS):
            cpu = cores
    return Outcome(measures, cpu, details)


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
            Measure(label, "jobs/s", BATCH_SIZE * len(latencies) / elapsed, "batch_1000"),
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


def count_finished(condition: str) -> str:
    """A count of the finished jobs where `condition` holds, in the live table and in the
    history (maintenance moves them there a minute after they finish, during a scenario's
    runs), read in one snapshot. Only the jobs created in the last hour, a scenario's own:
    a history planted before (bench.history's millions) is not read, through the history's
    creation index. (Counting it took seconds, and a statement that long holds back the
    horizon under which the queued jobs' index drops its dead entries: claims slowed
    fortyfold meanwhile.)"""
    recent = "created_at >= now() - interval '1 hour'"
    return (
        f"SELECT (SELECT count(*) FROM jobsvc_jobs WHERE {condition} AND {recent})"
        f" + (SELECT count(*) FROM jobsvc_jobs_history WHERE {condition} AND {recent})"
    )


COUNT_SUCCEEDED = count_finished("state = 'succeeded'")
COUNT_QUEUED = "SELECT count(*) FROM jobsvc_jobs WHERE state = 'queued'"
COUNT_FAILED = count_finished("state IN ('failed', 'cancelled')")
COUNT_WAITING = "SELECT count(*) FROM jobsvc_jobs WHERE state IN ('queued', 'running') AND handler = $1"


@dataclass
class _Producer:
    """Submits batches of due jobs until told to stop, keeping the backlog bounded.

    With several clients (one per server process) the batches go round-robin over them.
    """

    clients: list[Client]
    pool: asyncpg.Pool
    handler: str = HANDLER
    # What counts as the backlog the producer keeps under E2E_MAX_BACKLOG.
    backlog_sql: str = COUNT_QUEUED
    submitted: int = 0
    waits: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """max(E2E_PRODUCERS, one per client) loops, each on one client (one per server process)."""
        loops = max(E2E_PRODUCERS, len(self.clients))
        await asyncio.gather(*(self._loop(self.clients[i % len(self.clients)]) for i in range(loops)))

    async def _loop(self, client: Client) -> None:
        specs = [job_spec(self.handler, PAYLOAD) for _ in range(E2E_BATCH_SIZE)]
        for _ in range(E2E_MAX_PRODUCER_STEPS):
            if self.stop.is_set():
                return
            if await self.pool.fetchval(self.backlog_sql) >= E2E_MAX_BACKLOG:
                self.waits += 1
                await asyncio.sleep(E2E_BACKLOG_POLL)
                continue
            submitted = await _submit_batch(client, specs)
            self.submitted += submitted  # not `+= await`: the loops would overwrite each other's counts


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


def e2e_run(concurrency: int, *, key: str = "", handler: str = HANDLER, label: str = "") -> RunOnce:
    """Jobs produced in batches while executors (in-process of `concurrency`, or remote workers) run them."""

    async def run_once(ctx: Context) -> Outcome:
        producer = _Producer(ctx.clients or [ctx.client], ctx.pool, handler)
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
        name = label or f"End-to-end, executor concurrency {concurrency}"
        return Outcome(
            [
                Measure(name, "jobs/s", (done1 - done0) / (t1 - t0), key),
                Measure(f"{name}: produced", "jobs/s", (submitted1 - submitted0) / (t1 - t0)),
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


# -- A bulk redrive beside the end-to-end load ----------------------------------------

# Dead-lettered jobs of the load's own handler, as a failed deploy leaves them (within the
# hour that count_finished counts): made in one statement (running 100,000 jobs to
# failure would measure something else), labelled
# so that the redrive selects exactly them. At a priority below the load's, so that their
# redriven copies (which keep it) run in the executors' spare capacity: what the figure
# measures is the operation's own cost. At the load's priority they would take the
# executors' capacity at the operation's rate whatever it does (README, "Bulk actions").
DEAD_LABEL = "dead"
DEAD_PRIORITY = -1
INSERT_DEAD = """
INSERT INTO jobsvc_jobs
    (id, handler, version_selector, version, state, priority, input, labels, attempt, max_attempts, last_seq,
     error, created_at, run_at, order_at, started_at, finished_at)
SELECT gen_random_uuid(), $1::text, '', $2::text, 'failed', $3::integer, '{"n": 1}'::jsonb,
       jsonb_build_object('bench', $4::text), 3, 3, 7, '{"type": "Bench", "message": "dead"}'::jsonb,
       now() - interval '40 minutes', now() - interval '40 minutes', now() - interval '40 minutes',
       now() - interval '30 minutes', now() - interval '30 minutes'
FROM generate_series(1, $5::integer)
"""
# The load's backlog: the redriven jobs queued below it are not part of it.
COUNT_LOAD_QUEUED = "SELECT count(*) FROM jobsvc_jobs WHERE state = 'queued' AND priority >= 0"
# The load's jobs only: the redriven copies (redrive_of set) run on the same executors.
COUNT_LOAD_SUCCEEDED = count_finished("state = 'succeeded' AND redrive_of IS NULL")
COUNT_REDRIVEN_SUCCEEDED = count_finished("state = 'succeeded' AND redrive_of IS NOT NULL")
OPERATION_POLL = 0.2
REDRIVE_TIMEOUT = 900.0


async def _load_window(ctx: Context, seconds: float) -> float:
    """The load's own jobs finished per second over `seconds`."""
    done0, t0 = await _count(ctx.pool, COUNT_LOAD_SUCCEEDED)
    await asyncio.sleep(seconds)
    done1, t1 = await _count(ctx.pool, COUNT_LOAD_SUCCEEDED)
    return (done1 - done0) / (t1 - t0)


async def _until_finished(ctx: Context, operation_id: str, timeout: float) -> operation_service_pb2.Operation:
    """Poll the operation until it is no longer running."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        operation = await ctx.client.get_operation(operation_id, timeout=RPC_TIMEOUT)
        if operation.state != operation_service_pb2.OPERATION_STATE_RUNNING:
            return operation
        await asyncio.sleep(OPERATION_POLL)
    raise RuntimeError(f"operation {operation_id} still running after {timeout:.0f} s")


async def redrive_run(ctx: Context) -> Outcome:
    """The end-to-end load alone, then while a bulk redrive (default rate limit) re-runs
    `dead_jobs` dead-lettered jobs of its handler, then alone again; the figure is the load's
    own throughput during the redrive over the mean of the two windows around it."""
    dead = ctx.timing.dead_jobs
    await ctx.pool.execute(INSERT_DEAD, HANDLER, "1.0.0", DEAD_PRIORITY, DEAD_LABEL, dead)
    producer = _Producer(ctx.clients or [ctx.client], ctx.pool, backlog_sql=COUNT_LOAD_QUEUED)
    job_filter = operation_service_pb2.JobFilter(handler=HANDLER, labels={"bench": DEAD_LABEL})
    async with _producing(producer):
        await asyncio.sleep(ctx.timing.e2e_warmup)
        before = await _load_window(ctx, ctx.timing.e2e_window)
        async with ctx.measure() as cores:
            done0, t0 = await _count(ctx.pool, COUNT_LOAD_SUCCEEDED)
            started = await ctx.client.bulk(operation_service_pb2.BULK_ACTION_REDRIVE, job_filter, timeout=RPC_TIMEOUT)
            finished = await _until_finished(ctx, started.id, REDRIVE_TIMEOUT - 60)
            done1, t1 = await _count(ctx.pool, COUNT_LOAD_SUCCEEDED)
        after = await _load_window(ctx, ctx.timing.e2e_window)
    if finished.state != operation_service_pb2.OPERATION_STATE_SUCCEEDED or finished.processed != dead:
        raise RuntimeError(f"the redrive ended {finished.state} having redriven {finished.processed} of {dead}")
    during, alone = (done1 - done0) / (t1 - t0), (before + after) / 2
    failed, _ = await _count(ctx.pool, COUNT_FAILED)
    if failed != dead:
        raise RuntimeError(f"{failed - dead} end-to-end or redriven job(s) failed or were cancelled")
    redriven_ran, _ = await _count(ctx.pool, COUNT_REDRIVEN_SUCCEEDED)
    label = f"End-to-end during a bulk redrive of {dead:,} dead jobs"
    return Outcome(
        [
            Measure(f"{label}: load / load alone", "ratio", during / alone if alone else 0.0, "redrive_ratio"),
            Measure(label, "jobs/s", during),
            Measure("End-to-end alone (mean of the windows before and after)", "jobs/s", alone),
            Measure("Bulk redrive", "jobs/s", dead / (t1 - t0), "redrive_rate"),
        ],
        cores,
        {
            "dead_jobs": dead,
            "alone_before": before,
            "alone_after": after,
            "redrive_window_s": t1 - t0,
            "max_jobs_per_second": started.max_jobs_per_second,
            "redriven_succeeded_by_end": redriven_ran,
        },
    )


async def wait_online(client: Client, handler: str, timeout: float = READY_TIMEOUT) -> None:
    """Until the server says an executor (here: a remote worker) of `handler` is online."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(grpc.aio.AioRpcError):
            if any(info.online for info in await client.handlers(handler, timeout=5)):
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no executor of {handler} online within {timeout:.0f} s")


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
        return call_outcome(callers, load, cores)

    return run_once


def call_outcome(callers: int, load: LoadResult, cores: dict[str, float]) -> Outcome:
    """The figures of a closed loop of calls (jobsvc's Call, or a peer's round trip)."""
    label = f"Call, {callers} caller{'s' if callers > 1 else ''}"
    return Outcome(
        [
            Measure(label, "calls/s", load.rate, f"call{callers}_rate"),
            Measure(f"{label}: p50", "ms", load.percentile_ms(50), f"call{callers}_p50"),
            Measure(f"{label}: p99", "ms", load.percentile_ms(99), f"call{callers}_p99"),
        ],
        cores,
        _load_details(load),
    )


# -- Stream ---------------------------------------------------------------------------


@dataclass
class _StreamWindow:
    """Streams jobs back to back from `streams` callers, counting the events that arrive before the deadline."""

    client: Client
    streams: int
    events_per_job: int
    events: int = 0
    jobs: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    async def run(self, duration: float) -> float:
        """Stream for `duration` seconds; the elapsed time. Jobs still streaming then are cancelled."""
        start = time.perf_counter()
        deadline = start + duration
        await asyncio.gather(*(self._caller(deadline) for _ in range(self.streams)))
        return min(time.perf_counter(), deadline) - start

    async def _caller(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            job_id, last = "", ""
            try:
                async for event in self.client.stream(
                    submit=job_spec("emit", {"events": self.events_per_job}), max_reconnects=0
                ):
                    if time.perf_counter() >= deadline:
                        break
                    job_id, last = event.job_id, event.WhichOneof("kind") or ""
                    self.events += 1
            except grpc.aio.AioRpcError as exc:
                self.errors[exc.code().name] = self.errors.get(exc.code().name, 0) + 1
                continue
            if last == "succeeded":
                self.jobs += 1
            elif job_id:
                # Cut off by the deadline: stop the job, so that it does not write events into the next window.
                with contextlib.suppress(grpc.aio.AioRpcError):
                    await self.client.cancel(job_id, "benchmark window over", timeout=RPC_TIMEOUT)


async def stream_run(ctx: Context) -> Outcome:
    """Submit-and-stream jobs whose handler emits many progress events: one stream, then 64 at once."""
    measures: list[Measure] = []
    details: dict[str, Any] = {}
    cpu: dict[str, float] = {}
    for streams in (1, STREAM_CONCURRENCY):
        per_job = ctx.timing.stream_events if streams == 1 else max(ctx.timing.stream_events // 10, 20)
        await _StreamWindow(ctx.client, streams, per_job).run(ctx.timing.warmup)
        window = _StreamWindow(ctx.client, streams, per_job)
        async with ctx.measure() as cores:
            elapsed = await window.run(ctx.timing.duration)
        if window.events == 0:
            raise RuntimeError(f"no stream event arrived; errors: {window.errors}")
        label = f"Stream, {streams} stream{'s' if streams > 1 else ''}"
        measures += [
            Measure(label, "events/s", window.events / elapsed, f"stream_{streams}"),
            Measure(f"{label}: jobs streamed to the end", "jobs/s", window.jobs / elapsed),
        ]
        details[f"streams_{streams}"] = {
            "events": window.events,
            "jobs_finished": window.jobs,
            "events_per_job": per_job + 3,
            "elapsed_s": elapsed,
            "errors": window.errors,
        }
        cpu = cores
    return Outcome(measures, cpu, details)


# -- Idle cost ------------------------------------------------------------------------


async def _idle_window(ctx: Context) -> tuple[float, float | None, dict[str, float]]:
    """Transactions/s and statements/s the database sees from the server(s) over one idle window."""
    assert ctx.stats is not None
    await asyncio.sleep(ctx.timing.idle_settle)
    async with ctx.measure() as cores:
        start = await ctx.stats.sample()
        await asyncio.sleep(ctx.timing.idle_window)
        end = await ctx.stats.sample()
    rates = DbStats.rates(start, end)
    return rates.transactions, rates.statements, cores


async def idle_run(ctx: Context) -> Outcome:
    """No work: what the server sends to PostgreSQL on its own, then with 100 idle remote workers connected."""
    replicas = len(ctx.servers) or 1
    measures: list[Measure] = []
    xacts, statements, cpu = await _idle_window(ctx)
    measures += _idle_measures("Idle, no work", xacts, statements, replicas, "idle")
    cmd = [
        sys.executable,
        "-m",
        "bench.idle_workers",
        "--server",
        ctx.client_target,
        "--count",
        str(IDLE_WORKERS),
    ]
    log_file = ctx.logs / "idle_workers.log"
    async with child_process(cmd, log_file) as workers:
        await _wait_log_line(log_file, "READY", [workers], "bench.idle_workers")
        xacts, statements, cpu = await _idle_window(ctx)
        require_running([workers], "bench.idle_workers")
    measures += _idle_measures(f"Idle, {IDLE_WORKERS} idle remote workers", xacts, statements, replicas, "idle_workers")
    return Outcome(measures, cpu, {"replicas": replicas, "window_s": ctx.timing.idle_window})


def _idle_measures(label: str, xacts: float, statements: float | None, replicas: int, key: str) -> list[Measure]:
    found = [Measure(f"{label}: transactions", "xacts/s", xacts / replicas, f"{key}_xacts")]
    if statements is not None:
        found.insert(0, Measure(f"{label}: statements", "queries/s", statements / replicas, f"{key}_queries"))
    return found


async def _wait_log_line(log_file: Path, word: str, processes: list[Any], what: str) -> None:
    """Until a line of log_file is `word` (the child's ready signal)."""
    deadline = time.monotonic() + READY_TIMEOUT * 2
    while time.monotonic() < deadline:
        require_running(processes, what)
        if log_has_word(log_file, word):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{what} not {word} within {READY_TIMEOUT * 2:.0f} s")


# -- Memory ---------------------------------------------------------------------------


def _memory_clients(target: str) -> list[Client]:
    options = [("grpc.use_local_subchannel_pool", 1)]
    return [Client(target, channel=grpc.aio.insecure_channel(target, options=options)) for _ in range(MEMORY_CHANNELS)]


Opener = Callable[[Client], Awaitable[Any]]


async def _hold(ctx: Context, count: int, start: Opener, what: str) -> tuple[float, int, int, int]:
    """Open `count` waiting requests, wait until the server holds them all, then read its RSS and
    the LISTEN connections; the requests are released (cancelled by the callers) afterwards."""
    assert ctx.stats is not None
    clients = _memory_clients(ctx.client_target)
    tasks: list[asyncio.Task[Any]] = []
    try:
        waiting0 = int(await ctx.pool.fetchval(COUNT_WAITING, "block"))
        deadline = time.monotonic() + max(60.0, count / 50)
        # At most MEMORY_OPENING requests not yet accepted at a time: with thousands (and, under
        # load, with 1,000) opened ahead, gRPC's server cancelled some before jobsvc saw them
        # (CANCELLED, nothing in the server's log; gRPC core caps the calls waiting for the
        # application, `grpc.server.max_pending_requests`). The figure is about holding them.
        accepted, failed = 0, []
        while accepted < count:
            more = min(accepted + MEMORY_OPENING, count) - len(tasks)
            tasks += [asyncio.create_task(start(clients[(len(tasks) + i) % len(clients)])) for i in range(more)]
            await asyncio.sleep(0.05)
            accepted = int(await ctx.pool.fetchval(COUNT_WAITING, "block")) - waiting0
            failed = [t for t in tasks if t.done()]
            # A few ended by the server are reported (ended_early), not fatal; more than 1% is.
            if len(failed) > count // 100:
                raise RuntimeError(f"{len(failed)} {what} ended early: {failed[0].exception()!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server accepted {accepted} of {count} {what} in time")
        await asyncio.sleep(0.5)  # every request is past its insert and now waiting
        rss = sum(rss_mib(server.pid) for server in ctx.servers)
        listen, total = await ctx.stats.connections()
        ended = [t for t in tasks if t.done()]
        if ended:
            print(f"  WARNING: {len(ended)} of {count} {what} ended while held: {ended[0].exception()!r}", flush=True)
        return rss, listen, total, len(ended)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


async def _call_block(client: Client) -> None:
    await client.call("block", None, timeout=3600)


async def _stream_block(client: Client) -> None:
    async for _event in client.stream(submit=job_spec("block", None), max_reconnects=0):
        pass


async def memory_calls_run(ctx: Context) -> Outcome:
    """Server RSS with many Calls waiting at once (handler `block`), and the LISTEN connections."""
    calls = ctx.timing.calls_waiting
    baseline = sum(rss_mib(server.pid) for server in ctx.servers)
    async with ctx.measure() as cores:
        rss, listen, total, ended = await _hold(ctx, calls, _call_block, "Calls")
    return Outcome(
        [
            Measure("Server RSS at rest", "MiB", baseline),
            Measure(f"Server RSS, {calls:,} Calls waiting", "MiB", rss, "mem_calls"),
            Measure(f"LISTEN connections, {calls:,} Calls waiting", "per process", listen, "listen_calls"),
        ],
        cores,
        {"calls_waiting": calls, "ended_early": ended, "database_connections": total, "servers": len(ctx.servers)},
    )


async def memory_streams_run(ctx: Context) -> Outcome:
    """Server RSS with many open streams (handler `block`), and the LISTEN connections."""
    streams = ctx.timing.streams_open
    baseline = sum(rss_mib(server.pid) for server in ctx.servers)
    async with ctx.measure() as cores:
        rss, listen, total, ended = await _hold(ctx, streams, _stream_block, "streams")
    return Outcome(
        [
            Measure("Server RSS at rest", "MiB", baseline),
            Measure(f"Server RSS, {streams:,} open streams", "MiB", rss, "mem_streams"),
            Measure(f"LISTEN connections, {streams:,} open streams", "per process", listen, "listen_streams"),
        ],
        cores,
        {"streams_open": streams, "ended_early": ended, "database_connections": total, "servers": len(ctx.servers)},
    )


# -- helpers --------------------------------------------------------------------------


def _require_success(load: LoadResult) -> None:
    if load.completed == 0:
        raise RuntimeError(f"no request succeeded; errors: {dict(load.errors)}")


# -- Workflows ------------------------------------------------------------------------

WORKFLOW_POLL = 0.02
WORKFLOW_TIMEOUT = 600.0
# How a workflow's step named :name is, by the jobs table (no GetWorkflow of 10,000 steps).
STEP_STATE = """SELECT j.state FROM jobsvc_workflow_steps s JOIN jobsvc_jobs j ON j.id = s.job_id
                WHERE s.workflow_id = $1::uuid AND s.name = $2"""
# Parent finished to child started, per edge of a chain (consecutive positions), in seconds.
EDGE_LATENCIES = """SELECT extract(epoch FROM c.started_at - p.finished_at)::float8 AS latency
                    FROM jobsvc_workflow_steps ps JOIN jobsvc_jobs p ON p.id = ps.job_id
                    JOIN jobsvc_workflow_steps cs ON cs.workflow_id = ps.workflow_id AND cs.position = ps.position + 1
                    JOIN jobsvc_jobs c ON c.id = cs.job_id
                    WHERE ps.workflow_id = $1::uuid"""
COUNT_LABELLED = count_finished("state = 'succeeded' AND labels ->> 'bench' = $1")


async def _workflow_done(pool: asyncpg.Pool, workflow_id: str, step: str) -> float:
    """Poll until `step` of the workflow has finished (it must succeed); the moment it was seen."""
    deadline = time.perf_counter() + WORKFLOW_TIMEOUT
    while time.perf_counter() < deadline:
        state = await pool.fetchval(STEP_STATE, workflow_id, step)
        if state == "succeeded":
            return time.perf_counter()
        if state in ("failed", "cancelled"):
            raise RuntimeError(f"workflow {workflow_id}: step {step} is {state}")
        await asyncio.sleep(WORKFLOW_POLL)
    raise RuntimeError(f"workflow {workflow_id} did not finish in {WORKFLOW_TIMEOUT} s")


async def _timed_workflow(
    ctx: Context, steps: list[workflow_service_pb2.WorkflowStep], sink: str
) -> tuple[float, float, str]:
    """Submit a workflow and wait for its sink: (seconds to submit, seconds in all, its id)."""
    t0 = time.perf_counter()
    workflow = await ctx.client.submit_workflow(steps, timeout=WORKFLOW_TIMEOUT)
    submitted = time.perf_counter()
    done = await _workflow_done(ctx.pool, workflow.id, sink)
    return submitted - t0, done - t0, workflow.id


async def _plain_jobs(ctx: Context, count: int) -> float:
    """`count` plain noop jobs in SubmitBatches of BATCH_SIZE: seconds until all succeeded."""
    label = f"plain-{time.monotonic_ns()}"
    specs = [job_spec(HANDLER, PAYLOAD, labels={"bench": label}) for _ in range(count)]
    t0 = time.perf_counter()
    for start in range(0, count, BATCH_SIZE):
        await _submit_batch(ctx.client, specs[start : start + BATCH_SIZE])
    deadline = t0 + WORKFLOW_TIMEOUT
    while await ctx.pool.fetchval(COUNT_LABELLED, label) < count:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{count} plain jobs did not finish in {WORKFLOW_TIMEOUT} s")
        await asyncio.sleep(WORKFLOW_POLL)
    return time.perf_counter() - t0


async def workflow_run(ctx: Context) -> Outcome:
    """The cost of workflow steps beside plain jobs, on one server, one after the other:
    N plain jobs (SubmitBatch); a fan-out/fan-in of N steps submitted as N steps (one
    root, N - 2 steps depending on it, one join of them all); the same shape made by a
    mapped step (root -> map over a list of N - 2 -> join: the elements are made in the
    transaction that finishes the root); and a chain whose edges are timed in the
    database (child started_at - parent finished_at)."""
    n = ctx.timing.workflow_steps
    leaves = n - 2
    async with ctx.measure() as cores:
        plain_s = await _plain_jobs(ctx, n)
        explicit = [workflow_step("root", HANDLER, {"n": 1})]
        explicit += [workflow_step(f"leaf{i}", HANDLER, {"i": i}, depends_on=["root"]) for i in range(leaves)]
        explicit.append(workflow_step("join", HANDLER, {}, depends_on=[f"leaf{i}" for i in range(leaves)]))
        explicit_submit_s, explicit_s, _ = await _timed_workflow(ctx, explicit, "join")
        mapped = [
            workflow_step("root", HANDLER, {"items": list(range(leaves))}),
            workflow_step("each", HANDLER, {}, map_over=("root", "items"), map_key="i", max_items=leaves),
            workflow_step("join", HANDLER, {}, inputs={"all": "each"}),
        ]
        _, mapped_s, _ = await _timed_workflow(ctx, mapped, "join")
        chain = [workflow_step("s0", HANDLER, {"n": 0})]
        chain += [
            workflow_step(f"s{i}", HANDLER, {}, depends_on=[f"s{i - 1}"]) for i in range(1, ctx.timing.chain_steps)
        ]
        _, chain_s, chain_id = await _timed_workflow(ctx, chain, f"s{ctx.timing.chain_steps - 1}")
    latencies = [r["latency"] for r in await ctx.pool.fetch(EDGE_LATENCIES, chain_id)]
    return Outcome(
        [
            Measure(f"Plain jobs, {n:,} in SubmitBatches of {BATCH_SIZE}", "jobs/s", n / plain_s, "wf_plain"),
            Measure(f"Workflow fan-out/fan-in, {n:,} steps submitted", "steps/s", n / explicit_s, "wf_fanout"),
            Measure(f"Workflow fan-out/fan-in, {n:,} steps: submit", "s", explicit_submit_s),
            Measure(
                f"Workflow fan-out/fan-in by a mapped step, {leaves:,} elements", "steps/s", n / mapped_s, "wf_map"
            ),
            Measure(
                "One dependency edge, parent finished to child started: p50",
                "ms",
                percentile(latencies, 50) * 1000,
                "wf_edge_p50",
            ),
            Measure(
                "One dependency edge, parent finished to child started: p99",
                "ms",
                percentile(latencies, 99) * 1000,
                "wf_edge_p99",
            ),
        ],
        cores,
        {"plain_s": plain_s, "fanout_s": explicit_s, "map_s": mapped_s, "chain_s": chain_s, "edges": len(latencies)},
    )


def _load_details(load: LoadResult) -> dict[str, Any]:
    return {
        "completed": load.completed,
        "elapsed_s": load.elapsed,
        "errors": dict(load.errors),
        "workers": load.workers,
    }


def scenarios(e2e_concurrency: int, e2e_sweep: list[int], uvloop: bool) -> list[Scenario]:
    """Every jobsvc scenario in the order they run."""
    delayed = ServerOptions(uvloop=uvloop)
    executing = ServerOptions(concurrency=e2e_concurrency, uvloop=uvloop)
    found = [
        Scenario(
            "submit",
            f"Submit from {', '.join(map(str, SUBMIT_CALLERS))} callers in turn; jobs delayed 1 h, so the "
            f"executor (concurrency {delayed.concurrency}) has nothing to run",
            delayed,
            submit_run,
        ),
        Scenario("batch", f"SubmitBatch of {BATCH_SIZE}, sequential; jobs delayed 1 h, not run", delayed, batch_run),
        Scenario(
            "e2e",
            f"SubmitBatch of {E2E_BATCH_SIZE} from {E2E_PRODUCERS} producer loops "
            f"(backlog capped at {E2E_MAX_BACKLOG}) while "
            f"the server's executor runs noop at concurrency {e2e_concurrency}",
            executing,
            e2e_run(e2e_concurrency, key="e2e"),
        ),
        Scenario(
            "e2e_flow",
            "End-to-end as above with handler noop_limited: a concurrency limit and a rate limit "
            "(one key for all its jobs) high enough never to bind, to measure what they cost",
            executing,
            e2e_run(
                e2e_concurrency,
                key="e2e_flow",
                handler="noop_limited",
                label="End-to-end, flow control set but not binding",
            ),
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
    found.append(
        Scenario(
            "redrive",
            f"End-to-end as above (the load), alone for {FULL.e2e_window:.0f} s, then while a bulk redrive "
            f"(OperationService, default rate limit) re-runs {FULL.dead_jobs:,} dead-lettered jobs of its handler "
            f"(quick: {QUICK.dead_jobs:,}; priority {DEAD_PRIORITY}, below the load's) on the same executors, then "
            "alone again: the load's own jobs per second "
            "during the redrive over the mean of the two windows around it (one run)",
            executing,
            redrive_run,
            runs=1,
            # The operation rests four times as long as each batch takes (MAX_BUSY_SHARE):
            # on a loaded machine 100,000 jobs take minutes.
            run_timeout=REDRIVE_TIMEOUT,
        )
    )
    found += [
        Scenario(
            "e2e_remote",
            f"End-to-end as above, run by {REMOTE_WORKERS} remote `jobsvc worker` processes (concurrency "
            f"{REMOTE_WORKER_CONCURRENCY} each, handler noop_remote, which the server's own executor does not serve)",
            ServerOptions(uvloop=uvloop, workers=REMOTE_WORKERS, worker_concurrency=REMOTE_WORKER_CONCURRENCY),
            e2e_run(
                REMOTE_WORKER_CONCURRENCY,
                key="e2e_remote",
                handler="noop_remote",
                label=f"End-to-end, {REMOTE_WORKERS} remote Python workers",
            ),
        ),
        Scenario(
            "e2e_remote_go",
            f"End-to-end as above, run by {GO_WORKERS} remote Go worker process (clients/go/cmd/bench-worker, "
            f"built with `go build`; concurrency {GO_WORKER_CONCURRENCY}, handler noop_remote); skipped without go",
            ServerOptions(
                uvloop=uvloop, workers=GO_WORKERS, worker_concurrency=GO_WORKER_CONCURRENCY, worker_kind="go"
            ),
            e2e_run(
                GO_WORKER_CONCURRENCY,
                key="e2e_remote_go",
                handler="noop_remote",
                label=f"End-to-end, {GO_WORKERS} remote Go worker",
            ),
        ),
        Scenario(
            "call1", f"Sequential Calls to noop; executor concurrency {executing.concurrency}", executing, call_run(1)
        ),
        Scenario(
            f"call{CALL_CALLERS}",
            f"{CALL_CALLERS} concurrent callers of Call; executor concurrency {executing.concurrency}",
            executing,
            call_run(CALL_CALLERS),
        ),
        Scenario(
            "stream",
            f"Submit-and-Stream of jobs whose handler emits N progress events as fast as it can: 1 stream "
            f"(N = 2000), then {STREAM_CONCURRENCY} at once (N = 200); events counted until the window ends, "
            f"jobs still streaming then are cancelled; executor concurrency {executing.concurrency}",
            executing,
            stream_run,
        ),
        Scenario(
            "idle",
            f"No work: statements (pg_stat_statements) and transactions (pg_stat_database) per second the "
            f"server sends, per replica; then with {IDLE_WORKERS} idle remote worker sessions connected "
            "(one process, one connection each)",
            delayed,
            idle_run,
        ),
        Scenario(
            "memory_calls",
            f"Server RSS (VmRSS) with 10,000 Calls waiting at once (quick 200) over {MEMORY_CHANNELS} "
            f"connections, handler `block` (never returns; executor concurrency {executing.concurrency}, the "
            "rest stay queued); LISTEN connections from pg_stat_activity; a fresh server each run",
            executing,
            memory_calls_run,
            fresh_server_per_run=True,
        ),
        Scenario(
            "memory_streams",
            f"Server RSS with 1,000 open streams (quick 50) over {MEMORY_CHANNELS} connections, handler "
            "`block`; LISTEN connections; a fresh server each run",
            executing,
            memory_streams_run,
            fresh_server_per_run=True,
        ),
    ]
    found.append(
        Scenario(
            "workflow",
            f"On one server (executor concurrency {e2e_concurrency}), one after the other: 10,000 plain noop "
            "jobs (SubmitBatch); a 10,000-step fan-out/fan-in (one root, 9,998 steps depending on it, one "
            "join of them all) submitted in one SubmitWorkflow; the same made by a mapped step over a list of "
            "9,998; a chain of 200 steps, each edge timed in the database (child started - parent finished). "
            "Quick: 500 and 20",
            executing,
            workflow_run,
        )
    )
    found += [
        Scenario(
            f"scale{n}",
            f"End-to-end with {n} server process{'es' if n > 1 else ''} on one database and one port "
            f"(SO_REUSEPORT; one producer loop and connection per process, which the kernel spreads), "
            f"executor concurrency {e2e_concurrency} each",
            ServerOptions(concurrency=e2e_concurrency, uvloop=uvloop, processes=n),
            e2e_run(e2e_concurrency, key=f"scale_{n}", label=f"End-to-end, {n} server process{'es' if n > 1 else ''}"),
        )
        for n in SCALING
    ]
    return found
