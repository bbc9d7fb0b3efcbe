"""jobsvc_submit, the SQL function that submits a job from the application's own
transaction: nothing if it rolls back, a job that runs (once) and can be awaited over
gRPC if it commits; and the README's snippets, run as written."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import psycopg
import pytest

from jobsvc.domain.flow import url_host
from jobsvc.executor import ExecutorConfig
from jobsvc.sdk import Client, payload_value
from jobsvc.server import JobsvcServer
from jobsvc.v1 import job_pb2
from tests.conftest import REPO, StartServer
from tests.readme import readme_block
from tests.toolchains import run_tool, tail

SUCCEEDED = job_pb2.JOB_STATE_SUCCEEDED
GO_EXAMPLE = REPO / "clients" / "go" / "examples" / "sqlsubmit"
JAVA_EXAMPLE = REPO / "clients" / "java" / "examples" / "sqlsubmit" / "SqlSubmit.java"
# The PostgreSQL JDBC driver the Java example runs with.
PG_JDBC = "42.7.4"


async def awaited(client: Client, job_id: str) -> job_pb2.JobEvent:
    """The job's terminal event, awaited over gRPC (Stream by id)."""
    events = [event async for event in client.stream(job_id)]
    return events[-1]


async def test_a_rolled_back_submit_leaves_nothing(server: JobsvcServer, database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        tx = conn.transaction()
        await tx.start()
        job_id = await conn.fetchval("SELECT jobsvc_submit(handler => 'echo', input => '1'::jsonb)")
        assert job_id is not None
        await tx.rollback()
        assert await conn.fetchval("SELECT count(*) FROM jobsvc_jobs") == 0
        assert await conn.fetchval("SELECT count(*) FROM jobsvc_job_events") == 0
    finally:
        await conn.close()


async def test_a_committed_submit_runs_and_is_awaited_by_id(start_server: StartServer, database_url: str) -> None:
    # Claim loops that poll only every 30 s: the job starts at once only if the commit woke them.
    server = await start_server(executor=ExecutorConfig(concurrency=8, poll_interval=30.0, lease_seconds=6.0))
    await asyncio.sleep(0.5)  # past the claim loops' first (empty) round
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            job_id = str(
                await conn.fetchval(
                    "SELECT jobsvc_submit(handler => 'resize_image', version => $1, input => $2::jsonb,"
                    ' labels => \'{"tenant": "acme"}\')',
                    "1.4.0",
                    json.dumps({"width": 8}),
                )
            )
    finally:
        await conn.close()
    async with Client(f"127.0.0.1:{server.port}") as client:
        last = await asyncio.wait_for(awaited(client, job_id), 5)
        assert last.WhichOneof("kind") == "succeeded"
        job = await client.get(job_id)
    assert job.state == SUCCEEDED and job.version == "1.4.0" and dict(job.labels) == {"tenant": "acme"}


async def test_latest_resolves_to_the_newest_release(client: Client, database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        job_id = str(await conn.fetchval("SELECT jobsvc_submit(handler => 'resize_image', input => '{}')"))
    finally:
        await conn.close()
    assert (await client.get(job_id)).version == "2.1.0"


@pytest.mark.parametrize(
    ("call", "sqlstate", "message"),
    [
        ("jobsvc_submit(handler => 'nope')", "P0002", "no handler named nope"),
        ("jobsvc_submit(handler => 'echo', version => '9.9.9')", "P0002", "no version matching 9.9.9"),
        ("jobsvc_submit(handler => 'echo', version => '^1.0')", "22023", "is a range"),
        ("jobsvc_submit(handler => 'echo', labels => '{\"a\": 1}')", "22023", "labels must be"),
        ("jobsvc_submit(handler => 'echo', max_attempts => 0)", "22023", "max_attempts"),
        ("jobsvc_submit(handler => '')", "22023", "handler is required"),
    ],
)
async def test_what_postgresql_can_check_it_refuses(
    server: JobsvcServer, database_url: str, call: str, sqlstate: str, message: str
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.PostgresError) as caught:
            await conn.fetchval(f"SELECT {call}")
        assert caught.value.sqlstate == sqlstate and message in str(caught.value)
    finally:
        await conn.close()


async def test_an_idempotency_key_returns_the_first_job(server: JobsvcServer, database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        submit = "SELECT jobsvc_submit(handler => 'echo', input => $1::jsonb, idempotency_key => 'k1')"
        first = await conn.fetchval(submit, "1")
        assert await conn.fetchval(submit, "1") == first
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.fetchval(submit, "2")
    finally:
        await conn.close()


async def test_concurrent_application_transactions_while_two_replicas_claim(
    start_server: StartServer, database_url: str
) -> None:
    """A thousand application transactions, 80 at a time (as many connections as the
    application has), each submitting two jobs (a quarter rolled back) while two replicas
    claim: every committed job runs exactly once, no rolled-back one exists."""
    for _ in range(2):
        await start_server()
    pool = await asyncpg.create_pool(database_url, min_size=80, max_size=80)
    assert pool is not None
    committed: list[str] = []
    rolled_back: list[str] = []

    async def application_transaction(n: int) -> None:
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            ids = [
                str(await conn.fetchval("SELECT jobsvc_submit(handler => 'echo', input => $1::jsonb)", str(n * 2 + i)))
                for i in range(2)
            ]
            await asyncio.sleep(random.random() * 0.01)
            if n % 4 == 0:
                await tx.rollback()
                rolled_back.extend(ids)
            else:
                await tx.commit()
                committed.extend(ids)

    try:
        await asyncio.gather(*(application_transaction(n) for n in range(1000)))
        async with pool.acquire() as conn:
            for _ in range(300):
                pending = await conn.fetchval("SELECT count(*) FROM jobsvc_jobs WHERE state <> 'succeeded'")
                if pending == 0:
                    break
                await asyncio.sleep(0.1)
            rows = await conn.fetch(
                "SELECT j.id::text, j.attempt, j.input,"
                " (SELECT count(*) FROM jobsvc_job_events e WHERE e.job_id = j.id AND e.kind = 'started') AS starts"
                " FROM jobsvc_jobs j"
            )
    finally:
        await pool.close()
    assert len(committed) == 1500 and len(rolled_back) == 500
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == set(committed), "a committed job is missing, or a rolled-back one exists"
    assert all(r["attempt"] == 1 and r["starts"] == 1 for r in rows), "a job ran twice"


def _orders_table(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, body jsonb NOT NULL)")


async def test_readme_asyncpg_snippet(client: Client, database_url: str) -> None:
    _orders_table(database_url)
    namespace: dict[str, Any] = {}
    exec(readme_block("sql-submit-asyncpg", "python"), namespace)
    conn = await asyncpg.connect(database_url)
    try:
        job_id = await namespace["place_order"](conn, {"tenant": "acme", "total": 12})
    finally:
        await conn.close()
    last = await asyncio.wait_for(awaited(client, job_id), 10)
    assert last.WhichOneof("kind") == "succeeded"
    assert payload_value((await client.get(job_id)).result) == {"tenant": "acme", "total": 12}


async def test_readme_psycopg_snippet(client: Client, database_url: str) -> None:
    _orders_table(database_url)
    namespace: dict[str, Any] = {}
    exec(readme_block("sql-submit-psycopg", "python"), namespace)

    def place() -> str:
        with psycopg.connect(database_url) as conn:
            job_id: str = namespace["place_order"](conn, {"tenant": "acme", "total": 3})
            return job_id

    job_id = await asyncio.to_thread(place)
    uuid.UUID(job_id)
    last = await asyncio.wait_for(awaited(client, job_id), 10)
    assert last.WhichOneof("kind") == "succeeded"


def _example(marker: str, language: str, program: Path) -> None:
    """The README's snippet is the example program's code, as written (indentation aside)."""

    def lines(text: str) -> str:
        return "\n".join(line.strip() for line in text.splitlines())

    assert lines(readme_block(marker, language)) in lines(program.read_text()), (
        f"README {marker} differs from {program}"
    )


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.skipif(shutil.which("go") is None, reason="no Go toolchain")
async def test_readme_go_pgx_snippet(client: Client, database_url: str) -> None:
    _orders_table(database_url)
    _example("sql-submit-go", "go", GO_EXAMPLE / "main.go")
    env = dict(os.environ, DATABASE_URL=database_url)
    code, output = await run_tool("go", "run", ".", cwd=GO_EXAMPLE, env=env, timeout=300)
    assert code == 0, tail(output)
    job_id = output.strip().splitlines()[-1]
    last = await asyncio.wait_for(awaited(client, job_id), 10)
    assert last.WhichOneof("kind") == "succeeded"
    assert payload_value((await client.get(job_id)).result) == {"tenant": "acme", "total": 7}


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.skipif(shutil.which("mvn") is None or shutil.which("java") is None, reason="no JDK and Maven")
async def test_readme_java_jdbc_snippet(client: Client, database_url: str) -> None:
    _orders_table(database_url)
    _example("sql-submit-java", "java", JAVA_EXAMPLE)
    driver = Path.home() / ".m2/repository/org/postgresql/postgresql" / PG_JDBC / f"postgresql-{PG_JDBC}.jar"
    if not driver.exists():
        code, output = await run_tool(
            "mvn",
            "-q",
            "-B",
            "dependency:get",
            f"-Dartifact=org.postgresql:postgresql:{PG_JDBC}",
            cwd=JAVA_EXAMPLE.parent,
            env=dict(os.environ),
            timeout=300,
        )
        assert code == 0, tail(output)
    url = urlsplit(database_url)
    jdbc = f"jdbc:postgresql://{url.hostname}:{url.port}{url.path}?user={url.username}"
    code, output = await run_tool(
        "java", "-cp", str(driver), str(JAVA_EXAMPLE), jdbc, cwd=JAVA_EXAMPLE.parent, env=dict(os.environ), timeout=120
    )
    assert code == 0, tail(output)
    job_id = output.strip().splitlines()[-1]
    last = await asyncio.wait_for(awaited(client, job_id), 10)
    assert last.WhichOneof("kind") == "succeeded"


# -- Flow control: the keys jobsvc_submit renders are the ones gRPC Submit renders -----------

FLOW_COLUMNS = "concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period, fairness_key"
KEYED_CASES = [
    ({"customer": "c1", "url": "https://API.Example.com/x", "n": 42}, {"tenant": "acme"}),
    ({"customer": 7, "url": "http://10.0.0.1:8080", "n": 1.5}, {"tenant": "b"}),
    ({"customer": True, "url": "http://[::1]/p?q=1", "n": 42.0}, {"tenant": "c"}),
    ({"customer": "x", "url": "HTTPS://user:pw@host.example:0/", "n": 1e-7}, {"tenant": "d"}),
    ({"customer": "y", "url": "http://h.example:00443#f", "n": -0.0}, {"tenant": "e"}),
    ({"customer": 2.25, "url": "https://h.example.", "n": 12345678901234567}, {"tenant": "f"}),
]


async def test_flow_controlled_handlers_get_the_keys_grpc_submit_gives(
    start_server: StartServer, database_url: str
) -> None:
    server = await start_server(handler_modules=["tests.flow_handlers"])
    conn = await asyncpg.connect(database_url)
    try:
        async with Client(f"127.0.0.1:{server.port}") as client:
            for value, labels in KEYED_CASES:
                by_grpc = (await client.submit("keyed", value, labels=labels)).id
                by_sql = await conn.fetchval(
                    "SELECT jobsvc_submit(handler => 'keyed', input => $1::jsonb, labels => $2::jsonb)",
                    json.dumps(value),
                    json.dumps(labels),
                )
                rows = await conn.fetch(
                    f"SELECT id, {FLOW_COLUMNS} FROM jobsvc_jobs WHERE id IN ($1::uuid, $2::uuid)", by_grpc, by_sql
                )
                grpc_row, sql_row = sorted(rows, key=lambda row: str(row["id"]) != by_grpc)
                assert dict(sql_row) | {"id": None} == dict(grpc_row) | {"id": None}, (value, labels)
                assert sql_row["concurrency_key"] and sql_row["rate_key"] and sql_row["fairness_key"]
    finally:
        await conn.close()


async def test_a_fairness_key_takes_turns_as_grpc_submits_do(start_server: StartServer, database_url: str) -> None:
    # tenant_work: fairness by {input.tenant}, one second apart.
    await start_server(handler_modules=["tests.flow_handlers"])
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            for tenant in ("big", "big", "big", "small"):
                await conn.fetchval(
                    "SELECT jobsvc_submit(handler => 'tenant_work', input => $1::jsonb)", json.dumps({"tenant": tenant})
                )
        rows = await conn.fetch("SELECT order_at, fairness_key FROM jobsvc_jobs ORDER BY order_at")
    finally:
        await conn.close()
    big = [row["order_at"] for row in rows if row["fairness_key"] == "big"]
    [small] = [row["order_at"] for row in rows if row["fairness_key"] == "small"]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(big)] == [1.0, 1.0]
    # The small tenant's one job is handed out with the big tenant's first, ahead of the rest.
    assert small == big[0]


@pytest.mark.parametrize(
    ("job", "column", "message"),
    [
        (({"customer": "c", "url": "http://h", "n": 1}, {}), "labels", "label 'tenant' is required"),
        (({"url": "http://h", "n": 1}, {"tenant": "t"}), "input.customer", "input field 'customer' is required"),
        (({"customer": {}, "url": "http://h", "n": 1}, {"tenant": "t"}), "input.customer", "string, number or boolean"),
        (({"customer": "c", "url": "ftp://h", "n": 1}, {"tenant": "t"}), "input.url", "http(s) URL with a host"),
        # gRPC reads this one (urlsplit strips the space); SQL refuses rather than guess.
        (({"customer": "c", "url": " http://h", "n": 1}, {"tenant": "t"}), "input.url", "http(s) URL with a host"),
        (({"customer": "c" * 300, "url": "http://h", "n": 1}, {"tenant": "t"}), "input", "longer than 256 bytes"),
    ],
)
async def test_a_key_it_cannot_render_is_refused_naming_the_field(
    start_server: StartServer, database_url: str, job: tuple[Any, Any], column: str, message: str
) -> None:
    await start_server(handler_modules=["tests.flow_handlers"])
    conn = await asyncpg.connect(database_url)
    try:
        value, labels = job
        with pytest.raises(asyncpg.InvalidParameterValueError) as caught:
            await conn.fetchval(
                "SELECT jobsvc_submit(handler => 'keyed', input => $1::jsonb, labels => $2::jsonb)",
                json.dumps(value),
                json.dumps(labels),
            )
        assert message in str(caught.value) and caught.value.column_name == column
        assert await conn.fetchval("SELECT count(*) FROM jobsvc_jobs") == 0
    finally:
        await conn.close()


# Read as url_host reads them (the first list), or refused (None) where urlsplit's reading is subtle.
PLAIN_URLS = [
    "http://example.com",
    "HTTPS://API.Example.COM/x?y#z",
    "https://example.com:8443/p",
    "http://example.com:0/",
    "http://example.com:080",
    "http://user:pw@Example.com/",
    "http://10.1.2.3:9000",
    "http://[::1]/",
    "https://[2001:DB8::1]:444/",
    "http://[::ffff:1.2.3.4]",
    "http://example.com./a",
    "http://a_b-c~d.example?q",
]
SUBTLE_URLS = [
    "http:// example.com",
    " http://example.com",
    "http://exa\tmple.com",
    "http://a\\b.com/",
    "http://%41.com",
    "http://bücher.example",
    "http://a@b@c.example",
    "http://[1.2.3.4]/",
    "http://[::1",
    "http://[:::]/",
]
REFUSED_BY_BOTH = [
    "ftp://example.com",
    "http://",
    "http://:80/",
    "http://example.com:65536",
    "http://example.com:x",
    "mailto:a@b.c",
    "example.com",
    "",
]


async def test_a_url_host_key_reads_a_url_as_the_server_does(server: JobsvcServer, database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        urls = PLAIN_URLS + SUBTLE_URLS + REFUSED_BY_BOTH
        found = dict(await conn.fetch("SELECT u, jobsvc_url_host(u) FROM unnest($1::text[]) u", urls))
    finally:
        await conn.close()
    assert {u: found[u] for u in PLAIN_URLS} == {u: url_host(u) for u in PLAIN_URLS}
    assert all(url_host(u) is not None for u in PLAIN_URLS)
    assert {u: found[u] for u in SUBTLE_URLS + REFUSED_BY_BOTH} == dict.fromkeys(SUBTLE_URLS + REFUSED_BY_BOTH)
    assert [url_host(u) for u in REFUSED_BY_BOTH] == [None] * len(REFUSED_BY_BOTH)
