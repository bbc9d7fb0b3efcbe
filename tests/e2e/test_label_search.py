"""ListJobs filtered by labels: every label given must match, through an index."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import grpc
import pytest

from jobsvc.sdk import Client, job_spec
from jobsvc.server import JobsvcServer
from jobsvc.store.sql import bind
from tests.processes import jobsvc_cli
from tests.readme import readme_block


async def _labelled_jobs(client: Client) -> dict[str, list[str]]:
    """Six jobs over two tenants and two regions: ids by 'tenant/region'."""
    combos = [("acme", "eu"), ("acme", "us"), ("acme", "eu"), ("globex", "eu"), ("globex", "us"), ("", "")]
    specs = [job_spec("echo", i, labels={"tenant": t, "region": r} if t else {}) for i, (t, r) in enumerate(combos)]
    jobs = await client.submit_batch(specs)
    found: dict[str, list[str]] = {}
    for job, (tenant, region) in zip(jobs, combos, strict=True):
        found.setdefault(f"{tenant}/{region}", []).append(job.id)
    return found


async def test_labels_filter_and_combine(client: Client) -> None:
    ids = await _labelled_jobs(client)

    async def listed(**labels: str) -> set[str]:
        return {j.id for j in (await client.list_jobs(labels=labels)).jobs}

    assert await listed(tenant="acme") == {*ids["acme/eu"], *ids["acme/us"]}
    assert await listed(tenant="acme", region="eu") == set(ids["acme/eu"])
    assert await listed(region="us") == {*ids["acme/us"], *ids["globex/us"]}
    assert await listed(tenant="initech") == set()
    assert len((await client.list_jobs()).jobs) == 6
    # Pages of a filtered list go on from where the last ended.
    first = await client.list_jobs(labels={"tenant": "acme"}, page_size=2)
    rest = await client.list_jobs(labels={"tenant": "acme"}, page_size=2, page_token=first.next_page_token)
    assert len(first.jobs) == 2 and len(rest.jobs) == 1 and not rest.next_page_token
    assert {j.id for j in [*first.jobs, *rest.jobs]} == await listed(tenant="acme")


async def test_a_bad_label_filter_is_invalid_argument(client: Client) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.list_jobs(labels={"": "x"})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "labels['']" in (caught.value.details() or "")


async def test_cli_lists_by_label(server: JobsvcServer, client: Client) -> None:
    ids = await _labelled_jobs(client)
    listed = await asyncio.to_thread(
        jobsvc_cli,
        "jobs",
        "list",
        "--label",
        "tenant=globex",
        "--label",
        "region=us",
        server=f"127.0.0.1:{server.port}",
    )
    assert listed.returncode == 0, listed.stderr
    assert ids["globex/us"][0] in listed.stdout and ids["acme/us"][0] not in listed.stdout


async def test_the_label_filter_uses_the_index(server: JobsvcServer, database_url: str) -> None:
    """EXPLAIN of the ListJobs query with a selective label, over 20,000 jobs of which
    most carry no labels and the rest one of 1,000 tenants."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """
            INSERT INTO jobsvc_jobs (id, handler, version_selector, version, state, labels)
            SELECT gen_random_uuid(), 'echo', '', '1.0.0', 'succeeded',
                   CASE WHEN i % 4 = 0 THEN jsonb_build_object('tenant', 't' || (i % 1000)) ELSE '{}' END
            FROM generate_series(1, 20000) AS i
            """
        )
        await conn.execute("ANALYZE jobsvc_jobs")
        sql, args = bind(
            "job_list",
            states=None,
            handler=None,
            labels=json.dumps({"tenant": "t8"}),
            version=None,
            created_after=None,
            created_before=None,
            cursor_created_at=None,
            cursor_id=None,
            page_size=101,
            payloads=False,
        )
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {sql}", *args))
    finally:
        await conn.close()
    assert "jobsvc_jobs_labels_idx" in plan, plan


async def test_readme_example(client: Client) -> None:
    ids = await _labelled_jobs(client)
    namespace: dict[str, Any] = {}
    exec(readme_block("labels-python", "python"), namespace)
    assert set(await namespace["jobs_of_tenant"](client, "globex")) == {*ids["globex/eu"], *ids["globex/us"]}
