"""Fixtures: one real PostgreSQL per test session, a fresh database per test cloned
from a migrated template, and jobsvc servers on loopback ports."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from jobsvc.app.maintenance import MaintenanceConfig
from jobsvc.executor import ExecutorConfig
from jobsvc.sdk import Client
from jobsvc.server import JobsvcServer, ServerConfig
from jobsvc.store.embedded import EmbeddedPostgres
from jobsvc.store.postgres import PgStore, create_pool

TEMPLATE_DB = "jobsvc_template"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pg() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server for the whole session, with a migrated template database."""
    with tempfile.TemporaryDirectory(prefix="jobsvc-test-pg-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "data", fsync=False)
        server.start()
        try:
            asyncio.run(_make_template(server))
            yield server
        finally:
            server.stop("immediate")


async def _make_template(server: EmbeddedPostgres) -> None:
    conn = await asyncpg.connect(server.dsn)
    try:
        await conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    finally:
        await conn.close()
    pool = await create_pool(server.dsn_for(TEMPLATE_DB), min_size=1, max_size=2)
    try:
        await PgStore(pool).migrate()
    finally:
        await pool.close()


@pytest.fixture
async def database_url(pg: EmbeddedPostgres) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg.dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
        yield pg.dsn_for(name)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


FAST_EXECUTOR = ExecutorConfig(concurrency=8, poll_interval=1.0, lease_seconds=6.0)
FAST_MAINTENANCE = MaintenanceConfig(rescue_interval=0.5, reap_interval=0.5, operation_takeover_interval=0.5)
StartServer = Callable[..., Awaitable[JobsvcServer]]


@pytest.fixture
async def start_server(database_url: str) -> AsyncIterator[StartServer]:
    """Start in-process jobsvc servers on 127.0.0.1; all are stopped after the test."""
    started: list[JobsvcServer] = []

    async def start(**overrides: Any) -> JobsvcServer:
        options: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "database_url": database_url,
            "handler_modules": ["tests.handlers"],
            "executor": FAST_EXECUTOR,
            "shutdown_grace": 2.0,
            "health_interval": 0.5,
            "maintenance": FAST_MAINTENANCE,
        }
        options.update(overrides)
        server = JobsvcServer(ServerConfig(**options))
        await server.start()
        started.append(server)
        return server

    yield start
    await asyncio.gather(*(s.stop(1.0) for s in started))


@pytest.fixture
async def server(start_server: StartServer) -> JobsvcServer:
    """One server serving tests.handlers."""
    return await start_server()


@pytest.fixture
async def client(server: JobsvcServer) -> AsyncIterator[Client]:
    """A client of `server`."""
    async with Client(f"127.0.0.1:{server.port}") as c:
        yield c


def subprocess_env() -> dict[str, str]:
    """Environment for child processes: the repo importable (for tests.handlers)."""
    env = dict(os.environ)
    # No balancer in front of test servers: SIGTERM stops them without the drain delay.
    env.setdefault("JOBSVC_DRAIN_DELAY", "0")
    # Test servers run side by side: no HTTP port unless a test asks for one (the default is 8080).
    env.setdefault("JOBSVC_HTTP_PORT", "0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env
