"""PgStore beyond the port's contract: migrations, and the named queries of queries.sql
against the migrated schema."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from jobsvc.domain.errors import Unavailable
from jobsvc.domain.flow import WaitReason
from jobsvc.store import rows
from jobsvc.store.embedded import EmbeddedPostgres
from jobsvc.store.postgres import PgStore, create_pool
from jobsvc.store.sql import bind, migrations, queries
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


# Literal arguments of the claims for EXPLAIN EXECUTE (SQL-level PREPARE: its plan is generic).
_CLAIM_LITERALS = {
    "served": "'{echo@1.0.0}'",
    "limit": "32",
    "owner": "'x'",
    "lease_seconds": "30",
    "now": "NULL",
    "paused_keys": "NULL",
}


async def test_claims_walk_the_queued_index_with_the_plan_cached_for_any_parameters(database_url: str) -> None:
    """Claim connections plan each claim once (a generic plan, cached for any parameters).
    That plan must walk the queued-jobs index in hand-out order up to the batch size, with
    10,000 jobs queued: no scan that reads and sorts every queued job (measured once:
    17-40 ms for a claim of 128 from 20,000) and no plan that depends on the parameters."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        await pool.execute(
            "INSERT INTO jobsvc_jobs (id, handler, version, version_selector, state, input, created_at, run_at,"
            " order_at, finished_at, max_attempts) SELECT gen_random_uuid(), 'echo', '1.0.0', '',"
            " CASE WHEN n % 2 = 0 THEN 'queued' ELSE 'succeeded' END, '1', now(), now(), now(), NULL, 3"
            " FROM generate_series(1, 20000) n"
        )
        await pool.execute("ANALYZE jobsvc_jobs")
    finally:
        await pool.close()
    claims = await create_pool(database_url, min_size=1, max_size=1, for_claims=True)
    try:
        async with claims.acquire() as conn:
            assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
            for name in ("job_claim", "job_claim_limited"):
                query = queries()[name]
                await conn.execute(f"PREPARE {name} AS {query.sql}")
                arguments = ", ".join(_CLAIM_LITERALS[p] for p in query.parameters)
                plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN EXECUTE {name}({arguments})"))
                walk = next(line for line in plan.splitlines() if "jobsvc_jobs_queued_by_version_idx" in line)
                assert "Index Scan using jobsvc_jobs_queued_by_version_idx" in walk, plan
                assert "$1" in plan or "$2" in plan, f"{name}: not a generic plan\n{plan}"
                # Each version's walk stops at the batch size (a Limit over the index scan);
                # only what the walks return is sorted into one hand-out order.
                next_cte = plan.split("CTE next", 1)[1].split("CTE ", 1)[0]
                assert "Seq Scan" not in next_cte and "Bitmap" not in next_cte, plan
                assert next_cte.index("Limit", next_cte.index("Subquery Scan")) < next_cte.index(walk.strip()), plan
    finally:
        await claims.close()


async def test_no_statement_of_jobsvc_is_jit_compiled(database_url: str) -> None:
    """A database that JIT-compiles every statement (jit_above_cost 0; by default any
    whose estimated cost passes 100,000, which the flow-controlled claim's generic plan did
    once autovacuum had counted tens of thousands of jobs: 55-70 ms of LLVM per 3 ms
    claim, flow-controlled throughput down tenfold). jobsvc's connections compile
    nothing: every pool's, the claim pool's, and, behind a transaction pooler (no session
    settings), a claim's transaction."""
    setup = await asyncpg.connect(database_url)
    try:
        database = await setup.fetchval("SELECT current_database()")
        for setting in ("jit_above_cost", "jit_inline_above_cost", "jit_optimize_above_cost"):
            await setup.execute(f"ALTER DATABASE {database} SET {setting} = 0")
    finally:
        await setup.close()
    claim = queries()["job_claim_limited"]
    arguments = ", ".join(_CLAIM_LITERALS[p] for p in claim.parameters)
    plain = await asyncpg.connect(database_url)
    try:
        # The database does compile, for a connection that does not say otherwise.
        await plain.execute(f"PREPARE c AS {claim.sql}")
        async with plain.transaction():
            plan = "\n".join(r[0] for r in await plain.fetch(f"EXPLAIN (ANALYZE) EXECUTE c({arguments})"))
        assert "JIT:" in plan, plan
    finally:
        await plain.close()
    for options in ({}, {"for_claims": True}, {"pooled": True}):
        pool = await create_pool(database_url, min_size=1, max_size=1, **options)  # type: ignore[arg-type]
        try:
            async with pool.acquire() as conn, conn.transaction():
                if options.get("pooled"):
                    await conn.execute(bind("plan_claims_for_transaction")[0])
                await conn.execute(f"PREPARE c AS {claim.sql}")
                plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE) EXECUTE c({arguments})"))
                assert "JIT:" not in plan, (options, plan)
                assert await conn.fetchval("SHOW jit") == "off", options
        finally:
            await pool.close()


async def test_a_claim_never_reads_the_queued_jobs_of_versions_it_does_not_serve(database_url: str) -> None:
    """20,000 queued jobs of a version nobody here serves (a paused handler's backlog, say),
    all ahead in hand-out order: a claim for another version reads none of them."""
    pool = await create_pool(database_url, min_size=1, max_size=1, for_claims=True)
    insert = (
        "INSERT INTO jobsvc_jobs (id, handler, version, version_selector, state, priority, input, created_at,"
        " run_at, order_at, max_attempts) SELECT gen_random_uuid(), $1, '1.0.0', '', 'queued', $2, '1', now(),"
        " now(), now(), 3 FROM generate_series(1, $3)"
    )
    try:
        async with pool.acquire() as conn:
            await conn.execute(insert, "other", 10, 20_000)
            await conn.execute(insert, "echo", 0, 5)
            await conn.execute("ANALYZE jobsvc_jobs")
            for name, extra in (("job_claim", {}), ("job_claim_limited", {"paused_keys": None})):
                sql, args = bind(
                    name,
                    now=None,
                    served=["echo@1.0.0", "gone@2.0.0"],
                    limit=32,
                    owner="t",
                    lease_seconds=30.0,
                    **extra,
                )
                plan, claimed = await _claim_undone(conn, sql, args)
                walks = list(_nodes_using(plan["Plan"], "jobsvc_jobs_queued_by_version_idx"))
                assert walks, f"{name} does not walk the queued index"
                # Pages read through the index and the rows it led to (the 20,000 others would
                # be hundreds); none of its rows was passed over by a filter.
                pages = sum(w["Shared Hit Blocks"] + w["Shared Read Blocks"] for w in walks)
                assert pages < 20, f"{name} read {pages} pages to claim 5 jobs"
                assert not any(w.get("Rows Removed by Filter") for w in walks), walks
                assert sorted(r["handler"] for r in claimed if r["id"] is not None) == ["echo"] * 5
    finally:
        await pool.close()


async def _claim_undone(conn: Any, sql: str, args: tuple[object, ...]) -> tuple[dict[str, Any], list[Any]]:
    """The claim's plan as it ran (EXPLAIN ANALYZE), and the rows it claims, both undone."""
    rows: list[Any] = []
    for explain in (True, False):
        transaction = conn.transaction()
        await transaction.start()
        try:
            if explain:
                [plan] = await conn.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, *args)
            else:
                rows = await conn.fetch(sql, *args)
        finally:
            await transaction.rollback()
    return plan, rows


def _nodes_using(node: dict[str, Any], index: str) -> Iterator[dict[str, Any]]:
    """The plan nodes (of an EXPLAIN in JSON) that read `index`."""
    if node.get("Index Name") == index:
        yield node
    for child in node.get("Plans", []):
        yield from _nodes_using(child, index)


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
