"""The migrations add up to schema.sql: a database built by applying every migration (as
PgStore.migrate does for every install) has the schema of one built by running
jobsvc/store/sql/schema.sql, by the catalog and by pg_dump; and schema.sql says why."""

from __future__ import annotations

import asyncio
import difflib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from jobsvc.store.embedded import EmbeddedPostgres
from jobsvc.store.postgres import PgStore, create_pool
from jobsvc.store.schema_dump import (
    REGENERATE,
    SCHEMA_FILE,
    Catalog,
    missing_comments,
    parse_comments,
    read_catalog,
    render,
)

DISAGREE = (
    f"applying every migration does not give the schema of {SCHEMA_FILE.name}: after adding a migration, "
    f"run `{REGENERATE}` to regenerate schema.sql, review the diff, and commit it with the migration"
)
# pg_dump lines that differ between two dumps of the same schema, or say nothing about it.
_DUMP_NOISE = ("--", "SET ", "SELECT pg_catalog.set_config", "\\restrict", "\\unrestrict")


@dataclass
class Databases:
    """Two databases on the test server: one migrated, one built from schema.sql."""

    server: EmbeddedPostgres
    migrated: str
    from_schema_sql: str

    async def catalog(self, name: str) -> Catalog:
        conn = await asyncpg.connect(self.server.dsn_for(name))
        try:
            return await read_catalog(conn)
        finally:
            await conn.close()

    async def execute(self, name: str, sql: str) -> None:
        conn = await asyncpg.connect(self.server.dsn_for(name))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


@pytest.fixture
async def databases(pg: EmbeddedPostgres) -> AsyncIterator[Databases]:
    """Fresh databases of their own (not the suite's template: this test is what says the
    template's way of building the schema gives schema.sql)."""
    created = [f"schema_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("migrated", "file")]
    admin = await asyncpg.connect(pg.dsn)
    try:
        for name in created:
            await admin.execute(f"CREATE DATABASE {name}")
        found = Databases(pg, *created)
        pool = await create_pool(pg.dsn_for(found.migrated), min_size=1, max_size=1)
        try:
            await PgStore(pool).migrate()
        finally:
            await pool.close()
        await found.execute(found.from_schema_sql, SCHEMA_FILE.read_text("utf-8"))
        yield found
    finally:
        for name in created:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


def difference(migrated: Catalog, other: Catalog, other_name: str = "schema.sql") -> str:
    """A unified diff of two catalogs; empty when they hold the same schema."""
    diff = difflib.unified_diff(migrated.lines(), other.lines(), "every migration applied", other_name, lineterm="")
    return "\n".join(diff)


async def pg_dump(databases: Databases, name: str) -> list[str]:
    """The schema-only dump of a database, its statements in sorted order (line by line, for
    a short diff), without the lines that differ between two dumps of one schema
    (comments, settings, the random \\restrict key)."""
    binary = databases.server.bin_dir / "pg_dump"
    if not binary.exists():
        pytest.skip(f"no pg_dump beside the server's binaries in {databases.server.bin_dir}")
    args = ["--schema-only", "--no-owner", "--no-privileges", f"--dbname={databases.server.dsn_for(name)}"]
    process = await asyncio.create_subprocess_exec(
        str(binary), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    kept = [line for line in out.decode().splitlines() if line.strip() and not line.startswith(_DUMP_NOISE)]
    statements = sorted(statement.strip() for statement in "\n".join(kept).split(";\n"))
    return [line for statement in statements for line in statement.splitlines()]


async def test_applying_every_migration_gives_the_schema_of_schema_sql(databases: Databases) -> None:
    migrated = await databases.catalog(databases.migrated)
    assert migrated.tables and migrated.functions  # the catalog was read at all
    diff = difference(migrated, await databases.catalog(databases.from_schema_sql))
    assert not diff, f"{DISAGREE}\n{diff}"


async def test_pg_dump_finds_the_two_schemas_the_same(databases: Databases) -> None:
    migrated = await pg_dump(databases, databases.migrated)
    from_file = await pg_dump(databases, databases.from_schema_sql)
    diff = "\n".join(difflib.unified_diff(migrated, from_file, "every migration applied", "schema.sql", lineterm=""))
    assert not diff, f"{DISAGREE}\n{diff}"


async def test_a_migration_left_out_of_schema_sql_is_caught_by_both_comparisons(databases: Databases) -> None:
    """What the two tests above see when someone adds a migration and forgets schema.sql."""
    await databases.execute(
        databases.migrated,
        """
        ALTER TABLE jobsvc_jobs ADD COLUMN note text;
        CREATE INDEX jobsvc_jobs_note_idx ON jobsvc_jobs (note);
        CREATE OR REPLACE FUNCTION jobsvc_concurrency_lock(p_key text) RETURNS integer
        LANGUAGE sql AS $$ SELECT 0 $$;
        """,
    )
    diff = difference(await databases.catalog(databases.migrated), await databases.catalog(databases.from_schema_sql))
    assert any(line.startswith("-  column ") and line.endswith(": note text") for line in diff.splitlines())
    assert "-index jobsvc_jobs_note_idx | CREATE INDEX jobsvc_jobs_note_idx ON jobsvc_jobs (note)" in diff
    assert "-function jobsvc_concurrency_lock |  LANGUAGE sql" in diff
    assert await pg_dump(databases, databases.migrated) != await pg_dump(databases, databases.from_schema_sql)


async def test_schema_dump_redraws_a_schema_sql_that_builds_the_same_schema(databases: Databases) -> None:
    """What `python -m jobsvc.store.schema_dump` would write (it runs these same steps)
    builds the migrated schema, and keeps every comment schema.sql has."""
    migrated = await databases.catalog(databases.migrated)
    comments = parse_comments(SCHEMA_FILE.read_text("utf-8"))
    drawn = render(migrated, comments)
    await databases.execute(databases.from_schema_sql, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    await databases.execute(databases.from_schema_sql, drawn)
    assert not difference(migrated, await databases.catalog(databases.from_schema_sql), "redrawn")
    lost = set(comments) - set(parse_comments(drawn))
    assert not lost, f"comments in schema.sql above objects the migrations do not make: {sorted(lost)}"


async def test_schema_sql_says_why_above_every_object(databases: Databases) -> None:
    migrated = await databases.catalog(databases.migrated)
    missing = missing_comments(migrated, parse_comments(SCHEMA_FILE.read_text("utf-8")))
    assert not missing, f"say why in a comment line right above each of these in {SCHEMA_FILE}: {missing}"
