"""PgStore beyond the port's contract: migrations, and the named queries of queries.sql
against the migrated schema."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from jobsvc.domain.errors import Unavailable
from jobsvc.domain.flow import WaitReason
from jobsvc.store import rows
from jobsvc.store.embedded import EmbeddedPostgres
from jobsvc.store.postgres import PgStore, create_pool
from jobsvc.store.sql import migrations, queries
from tests.store.conftest import new

# The queries whose rows rows.job reads.
JOB_QUERIES = (
    "job_get",
    "job_list",
    "job_get_by_idempotency_keys",
    "job_claim",
    "job_claim_limited",
    "job_redrive_many",
    "job_insert_cached",
    "job_children_get",
)


async def test_concurrent_migrations_apply_each_file_once(pg: EmbeddedPostgres) -> None:
    conn = await asyncpg.connect(pg.dsn)
    await conn.execute("CREATE DATABASE fresh_migrations")
    await conn.close()
    pools = [await create_pool(pg.dsn_for("fresh_migrations"), min_size=1, max_size=1) for _ in range(3)]
    try:
        applied = await asyncio.gather(*(PgStore(p).migrate() for p in pools))
        assert sorted(v for a in applied for v in a) == [m.version for m in migrations()]
        assert await PgStore(pools[0]).migrate() == []
        found = await pools[0].fetch("SELECT version FROM jobsvc_schema_migrations ORDER BY version")
        assert [r["version"] for r in found] == [m.version for m in migrations()]
    finally:
        for p in pools:
            await p.close()


async def test_every_named_query_prepares_against_the_migrated_schema(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for name, named in queries().items():
            if name.startswith(("migration_", "plan_")):  # session settings, run by the store tests
                continue
            await conn.prepare(named.sql)  # parse + plan: catches typos in rarely run queries
    finally:
        await conn.close()


async def test_every_job_query_selects_the_columns_rows_job_reads(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for name in JOB_QUERIES:
            statement = await conn.prepare(queries()[name].sql)
            selected = [attribute.name for attribute in statement.get_attributes()]
            missing = [c for c in rows.JOB_COLUMNS if c not in selected]
            assert not missing, f"{name} does not select {missing}"
    finally:
        await conn.close()


async def test_inserts_are_refused_at_once_while_the_database_is_unreachable(database_url: str) -> None:
    """A Submit that arrives while health finds the database unreachable, or waits behind
    a flush that hangs in the outage, answers UNAVAILABLE at once; the flushes already sent
    commit when the database answers again. (A table lock stands in for the outage.)"""
    pool = await create_pool(database_url, min_size=1, max_size=4)
    locker = await asyncpg.connect(database_url)
    store = PgStore(pool)
    try:
        await store.job_insert(new("warm-up"))
        lock = locker.transaction()
        await lock.start()
        await locker.execute("LOCK TABLE jobsvc_jobs IN ACCESS EXCLUSIVE MODE")
        sent = []
        for value in ("a", "b"):  # two flushes in flight, each stuck behind the lock
            sent.append(asyncio.create_task(store.job_insert(new(value))))
            await asyncio.sleep(0.2)
        queued = asyncio.create_task(store.job_insert(new("c")))  # waits for a flush to end
        await asyncio.sleep(0.1)
        assert not queued.done() and not any(t.done() for t in sent)

        await store.mark_unreachable(Unavailable("database unavailable: test outage"))
        with pytest.raises(Unavailable, match="test outage"):
            await asyncio.wait_for(queued, 1.0)
        with pytest.raises(Unavailable, match="test outage"):
            await asyncio.wait_for(store.job_insert(new("d")), 1.0)

        await lock.rollback()
        await store.mark_unreachable(None)
        inserted = [job for job, _created in await asyncio.wait_for(asyncio.gather(*sent), 10)]
        assert sorted(job.input.json for job in inserted) == ["a", "b"]
        (job, _created) = await store.job_insert(new("e"))
        assert job.input.json == "e"
    finally:
        await locker.close()
        await pool.close()


class _ReadRecorder(dict[str, Any]):
    """A row that remembers which columns were read from it."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


def test_rows_job_reads_the_job_columns_and_no_other() -> None:
    now = datetime.now(UTC)
    row = {column: None for column in rows.JOB_COLUMNS} | {
        "id": "00000000-0000-4000-8000-000000000000",
        "handler": "echo",
        "version_selector": "",
        "version": "1.0.0",
        "priority": 0,
        "attempt": 1,
        "labels": {},
        "created_at": now,
        "run_at": now,
        "cancel_requested": False,
        "last_seq": 3,
        "max_attempts": 3,
        "attempt_errors": [],
    }
    read: set[str] = set()
    # Every path through rows.job: a result, and each reason a queued job waits.
    for state, waiting in [("succeeded", ""), *(("queued", kind.value) for kind in WaitReason)]:
        recorder = _ReadRecorder(row | {"state": state, "waiting_kind": waiting, "rate_period": 1.0})
        rows.job(recorder)  # type: ignore[arg-type]
        read |= recorder.read
    assert read == {*rows.JOB_COLUMNS, "waiting_kind"}
