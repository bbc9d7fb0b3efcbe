"""A running server moves its finished jobs to the history by itself (maintenance, after
--history-after), and a caller sees nothing change: GetJob, Stream (from the start and
resumed), ListJobs and a bulk delete answer for a moved job as they did before."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg

from jobsvc.sdk import Client
from jobsvc.v1 import job_pb2
from jobsvc.v1 import operation_service_pb2 as ops
from tests.conftest import FAST_MAINTENANCE, StartServer

MOVED = "SELECT count(*) FROM jobsvc_jobs_history WHERE id = ANY($1::uuid[])"


async def _until_moved(database_url: str, ids: list[str]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(200):  # 20 s: the roll-up runs every pass while jobs change
            if await conn.fetchval(MOVED, ids) == len(ids):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"only {await conn.fetchval(MOVED, ids)} of {len(ids)} jobs moved to the history")
    finally:
        await conn.close()


async def test_a_finished_job_reads_the_same_after_it_moved(start_server: StartServer, database_url: str) -> None:
    server = await start_server(maintenance=replace(FAST_MAINTENANCE, history_after=0.0))
    async with Client(f"127.0.0.1:{server.port}") as client:
        done = [await client.call("echo", {"n": i}, labels={"batch": "h"}, timeout=20) for i in range(3)]
        assert all(job.state == job_pb2.JOB_STATE_SUCCEEDED for job in done)
        ids = [job.id for job in done]
        before = [await client.get(job_id) for job_id in ids]
        events = [event async for event in client.stream(ids[0])]
        listed = await client.list_jobs(labels={"batch": "h"})

        await _until_moved(database_url, ids)

        assert [await client.get(job_id) for job_id in ids] == before
        assert [event async for event in client.stream(ids[0])] == events
        resumed = [event async for event in client.stream(ids[0], after_sequence=events[0].sequence)]
        assert resumed == events[1:]
        assert await client.list_jobs(labels={"batch": "h"}) == listed

        started = await client.bulk(ops.BULK_ACTION_DELETE, ops.JobFilter(labels={"batch": "h"}))
        assert started.matched == 3
        finals = [o async for o in client.watch_operation(started.id)]
        assert finals[-1].state == ops.OPERATION_STATE_SUCCEEDED and finals[-1].processed == 3
        assert (await client.list_jobs(labels={"batch": "h"})).jobs == []
