"""Celery with a Redis broker (the non-PostgreSQL reference): publish from the harness (threads, as
Celery's client API is synchronous), consume with `celery worker` in its own processes.

Settings: `celery worker --pool prefork --concurrency 2` (one child per core, Celery's
default) with `--prefetch-multiplier 64` (the docs' advice for many short tasks) and
`--without-gossip --without-mingle --without-heartbeat`; acks on receipt (the default);
the no-op task ignores its result and counts itself with one Redis INCR so the harness can
see it finish; batches are a `group` of 1,000 signatures sent at once; the round-trip
"call" is `apply_async(...).get()` on a task whose result goes to the Redis result backend.
redis-server (Debian's) is private to the run: 127.0.0.1, a free port, a temporary
directory, append-only file with fsync every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis
from celery import Celery, group

from bench.peers import PeerEnv
from bench.processes import child_env, child_process, redis_server

URL_VARIABLE = "BENCH_REDIS_URL"
DONE_KEY = "bench:done"
QUEUE = "celery"
WORKER_CONCURRENCY = 2
PREFETCH = 64
RPC_TIMEOUT = 30.0


def make_app(url: str | None) -> Celery:
    """A Celery app on the Redis at `url` (broker and result backend), with the two tasks."""
    celery = Celery("bench_celery", broker=url, backend=url, set_as_current=False)
    celery.conf.update(
        task_ignore_result=True,
        # A pooled connection for every publishing thread (None would mean no pool at all).
        broker_pool_limit=300,
        broker_connection_retry_on_startup=True,
        result_expires=600,
        worker_hijack_root_logger=False,
    )
    celery.task(name="bench.noop", ignore_result=True)(_noop)
    celery.task(name="bench.echo", ignore_result=False)(_echo)
    return celery


_counter: redis.Redis | None = None


def _done_counter() -> redis.Redis:
    """One Redis client per worker child (created after the fork)."""
    global _counter  # noqa: PLW0603 - one lazily made client per process
    if _counter is None:
        _counter = redis.Redis.from_url(os.environ[URL_VARIABLE])
    return _counter


def _noop(n: int) -> None:
    """Does nothing but count itself (one INCR), so the harness sees it finish."""
    _done_counter().incr(DONE_KEY)


def _echo(n: int) -> int:
    """Returns its input: the result travels back through the result backend."""
    return n


# The app `celery -A bench.peers.celery_peer worker` runs (URL from the environment).
app = make_app(os.environ.get(URL_VARIABLE))


@dataclass
class CeleryPeer:
    """Celery on a private redis-server."""

    env: PeerEnv
    url: str
    redis_pid: int
    app: Celery
    name: str = "celery"
    settings: str = (
        f"celery worker --pool prefork --concurrency {WORKER_CONCURRENCY} --prefetch-multiplier {PREFETCH} "
        "--without-gossip/mingle/heartbeat; redis-server appendfsync everysec; group() for batches; "
        "publishing and calls from threads"
    )
    supports_call: bool = True
    _threads: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(300, thread_name_prefix="celery"))
    _redis: redis.Redis | None = None

    def __post_init__(self) -> None:
        self._redis = redis.Redis.from_url(self.url)

    @property
    def broker_pids(self) -> list[int]:
        """redis-server, whose CPU is the broker's share."""
        return [self.redis_pid]

    async def _in_thread(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    async def enqueue_one(self) -> None:
        await self._in_thread(self.app.tasks["bench.noop"].apply_async, (1,))

    async def enqueue_batch(self, size: int) -> int:
        noop = self.app.tasks["bench.noop"]
        await self._in_thread(lambda: group(noop.s(1) for _ in range(size)).apply_async())
        return size

    async def completed(self) -> int:
        assert self._redis is not None
        return int(await self._in_thread(self._redis.get, DONE_KEY) or 0)

    async def backlog(self) -> int:
        assert self._redis is not None
        return int(await self._in_thread(self._redis.llen, QUEUE))

    @contextlib.asynccontextmanager
    async def consumer(self) -> AsyncIterator[list[int]]:
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.peers.celery_peer",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(WORKER_CONCURRENCY),
            "--prefetch-multiplier",
            str(PREFETCH),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"bench-{os.getpid()}@%h",
        ]
        env = child_env(**{URL_VARIABLE: self.url})
        async with child_process(cmd, self.env.logs / "celery-worker.log", env) as process:
            yield [process.pid]

    def _call(self) -> None:
        result = self.app.tasks["bench.echo"].apply_async((1,)).get(timeout=RPC_TIMEOUT)
        if result != 1:
            raise RuntimeError(f"echo returned {result!r}")

    async def call_one(self) -> None:
        await self._in_thread(self._call)

    def close(self) -> None:
        """Stop the publishing threads and close the counter's connection."""
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self._redis is not None:
            self._redis.close()


@contextlib.asynccontextmanager
async def session(env: PeerEnv) -> AsyncIterator[CeleryPeer]:
    """A private redis-server, the app pointed at it."""
    async with redis_server(env.logs) as server:
        own = make_app(server.url)
        peer = CeleryPeer(env, server.url, server.process.pid, own)
        try:
            yield peer
        finally:
            peer.close()
            with contextlib.suppress(Exception):
                own.pool.force_close_all()
            own.close()
