"""Structured JSON logs: every line is one JSON object, and every line about a job (the
executor's, the ack service's, the handler's own) carries job_id, handler, version
and attempt; inputs never appear."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.observability.logs import JOB_FIELDS, log_handler
from jobsvc.sdk import Client, RemoteWorker, WorkerConfig
from tests.conftest import StartServer

SECRET_INPUT = "input-that-must-not-be-logged"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged during the test, as the `jobsvc --log-format json` handler writes it."""
    stream = io.StringIO()
    handler = log_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def parse(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [line for line in stream.getvalue().splitlines() if line]
    entries = [json.loads(line) for line in lines]  # every line is JSON, or this fails
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys()
    return entries


def about_job(entries: list[dict[str, Any]], job_id: str) -> list[dict[str, Any]]:
    """Lines about the job: those naming it, and the handler's own."""
    return [e for e in entries if job_id in e["message"] or e["logger"] == "tests.handlers" or "job_id" in e]


async def wait_for(entries_of: Any, done: Any, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        entries = entries_of()
        if done(entries) or asyncio.get_running_loop().time() > deadline:
            return entries
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("handler", ["flaky", "flaky_blocking"])
async def test_every_line_about_a_job_carries_its_fields(
    start_server: StartServer, json_lines: io.StringIO, handler: str
) -> None:
    server = await start_server()
    async with Client(f"127.0.0.1:{server.port}") as client:
        job = await client.call(handler, SECRET_INPUT, timeout=30)
    assert job.attempt == 2
    entries = await wait_for(
        lambda: parse(json_lines), lambda es: any("succeeded" in e["message"] and job.id in e["message"] for e in es)
    )
    lines = about_job(entries, job.id)
    for entry in lines:
        assert {k: entry.get(k) for k in JOB_FIELDS} == {
            "job_id": job.id,
            "handler": handler,
            "version": "1.0.0",
            "attempt": entry["attempt"],
        }, entry
    handler_lines = [e for e in lines if e["logger"] == "tests.handlers"]
    assert [e["attempt"] for e in handler_lines] == [1, 2]
    [retry] = [e for e in lines if "attempt 1 failed" in e["message"]]
    assert retry["level"] == "WARNING" and retry["attempt"] == 1 and "RuntimeError" in retry["message"]
    assert any(e["attempt"] == 2 and "succeeded" in e["message"] for e in lines)
    assert SECRET_INPUT not in json_lines.getvalue()


async def test_a_remote_workers_lines_and_the_ack_services_carry_the_fields(
    start_server: StartServer, json_lines: io.StringIO
) -> None:
    server = await start_server(handler_modules=[])
    table = HandlerTable([d for d in load_module("tests.handlers").handlers if d.name == "flaky"])
    worker = RemoteWorker(
        f"127.0.0.1:{server.port}", table, config=WorkerConfig(lease_seconds=3.0, shutdown_grace=1.0, concurrency=2)
    )
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.connected.wait(), 10)
        async with Client(f"127.0.0.1:{server.port}") as client:
            job = await client.call("flaky", SECRET_INPUT, timeout=30)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
    entries = parse(json_lines)
    lines = about_job(entries, job.id)
    assert {e["logger"] for e in lines} >= {"tests.handlers", "jobsvc.ack"}
    for entry in lines:
        assert (entry.get("job_id"), entry.get("handler"), entry.get("version")) == (job.id, "flaky", "1.0.0"), entry
        assert entry.get("attempt") in (1, 2), entry
    assert SECRET_INPUT not in json_lines.getvalue()


def test_text_lines_name_the_job_too() -> None:
    from jobsvc.observability.logs import job_fields

    stream = io.StringIO()
    logger = logging.getLogger("jobsvc.test-text")
    logger.addHandler(log_handler("text", stream))
    logger.setLevel(logging.INFO)
    try:
        with job_fields("j-1", "echo", "1.0.0", 3):
            logger.info("working")
        logger.info("idle")
    finally:
        logger.handlers.clear()
    working, idle = stream.getvalue().splitlines()
    assert working.endswith("working [job j-1 echo@1.0.0 attempt 3]")
    assert idle.endswith("idle")
