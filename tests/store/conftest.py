"""The storage conformance suite's fixture: `store` is each JobStore implementation in turn,
on storage of its own, so one suite holds every implementation to the port's contract.

Only PostgreSQL exists today. Another implementation (an in-memory twin, say) is added by
naming it in IMPLEMENTATIONS and opening it in `_open`; the tests do not change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from jobsvc.domain.jobs import HandlerSpec, JobSpec, NewJob, Payload, RetryPolicy
from jobsvc.store.port import JobStore
from jobsvc.store.postgres import PgStore, create_pool

IMPLEMENTATIONS = ["postgres"]

# The handler version every conformance test submits to, and its 'name@version' key.
HANDLER = HandlerSpec("echo", "1.0.0")
SERVED = ["echo@1.0.0"]

QUICK_RETRY = RetryPolicy(
    initial_interval=0.001,
    backoff_coefficient=1,
    maximum_interval=0.001,
    maximum_attempts=3,
    non_retryable_error_types=(),
)


def new(value: object = None, key: str | None = None, handler: str = "echo", **spec: object) -> NewJob:
    """A job of `handler` 1.0.0 with a JSON input, retried quickly (3 attempts)."""
    job = JobSpec(handler, "", Payload(json=value), idempotency_key=key, **spec)  # type: ignore[arg-type]
    return NewJob(job, "1.0.0", retry_policy=QUICK_RETRY)


@pytest.fixture(params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> tuple[str, str]:
    """Which implementation `store` is, and where it keeps its data (synchronous, so that
    it may ask for the fixtures only its implementation needs)."""
    if request.param == "postgres":
        # A fresh database cloned from the migrated template (tests/conftest.py).
        database_url: str = request.getfixturevalue("database_url")
        return request.param, database_url
    raise AssertionError(f"unknown store implementation {request.param!r}")


@asynccontextmanager
async def _open(implementation: str, location: str) -> AsyncIterator[JobStore]:
    if implementation == "postgres":
        pool = await create_pool(location, min_size=1, max_size=10)
        try:
            yield PgStore(pool)
        finally:
            await pool.close()
        return
    raise AssertionError(f"unknown store implementation {implementation!r}")


@pytest.fixture
async def store(implementation: tuple[str, str]) -> AsyncIterator[JobStore]:
    """An empty store of each implementation, with HANDLER registered."""
    async with _open(*implementation) as opened:
        await opened.handler_register([HANDLER])
        yield opened


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the test's database (PostgreSQL's tests look at its tables)."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()
