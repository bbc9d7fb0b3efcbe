"""Fixtures of the fault suite: a ledger per test, the ledger table in the test's
database, child processes and dedicated PostgreSQL servers that are always stopped."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.faults.children import Children
from tests.faults.dedicated_pg import DedicatedPostgres
from tests.faults.handlers import LEDGER_DSN_ENV, WORKER_ID_ENV, create_ledger_table
from tests.faults.ledger import Ledger


@pytest.fixture
async def ledger_dsn(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's database, with the executions table, named in FAULT_LEDGER_DSN for
    in-process handlers (child processes get it in their environment)."""
    conn = await asyncpg.connect(database_url)
    try:
        await create_ledger_table(conn)
    finally:
        await conn.close()
    monkeypatch.setenv(LEDGER_DSN_ENV, database_url)
    monkeypatch.delenv(WORKER_ID_ENV, raising=False)
    return database_url


@pytest.fixture
def ledger(request: pytest.FixtureRequest) -> Ledger:
    """An empty ledger named after the test."""
    return Ledger(request.node.name.removeprefix("test_")[:48])


@pytest.fixture
async def children(ledger_dsn: str) -> AsyncIterator[Children]:
    """Workers and replicas on the test's database; every one is stopped afterwards."""
    started = Children(ledger_dsn)
    try:
        yield started
    finally:
        await asyncio.to_thread(started.stop_all)


@pytest.fixture(autouse=True)
def _report_duration(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print how long each scenario took (the CI log keeps it with the ledger counts)."""
    began = time.monotonic()
    yield
    print(f"\n[faults] {request.node.name} took {time.monotonic() - began:.1f}s", flush=True)


@pytest.fixture
def dedicated_pg() -> Iterator[DedicatedPostgres]:
    """A PostgreSQL of the test's own (see dedicated_pg.py), always stopped."""
    with tempfile.TemporaryDirectory(prefix="jobsvc-fault-pg-") as tmp:
        server = DedicatedPostgres(Path(tmp) / "data")
        try:
            yield server
        finally:
            server.close()
