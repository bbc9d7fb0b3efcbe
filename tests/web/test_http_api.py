"""The API over HTTP (Connect protocol): JSON and binary protobuf, unary and streaming, over
HTTP/1.1 and HTTP/2, with the same codes, details, tokens and scopes as over gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import ssl
import time
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from jobsvc.api.auth import AuthConfig, required_scope
from jobsvc.app import workers
from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.sdk import RemoteWorker, WorkerConfig
from jobsvc.server import JobsvcServer, TlsConfig
from jobsvc.v1 import stream_service_pb2, submit_service_pb2
from tests.api.test_security import SECRETS, TOKENS_SPEC, WRONG, Certs
from tests.api_surface import call_async, jobsvc_methods, path_of
from tests.conftest import REPO, StartServer
from tests.web.conftest import envelope, envelopes, reason_of, status_of, stream_end

JSON = {"content-type": "application/json"}
STREAM_JSON = {"content-type": "application/connect+json"}


def _readme_examples() -> str:
    """The shell block of the README's HTTP section that this file runs."""
    readme = (REPO / "README.md").read_text()
    match = re.search(r"<!-- http-examples -->\n```sh\n(.*?)```", readme, re.DOTALL)
    assert match, "README.md lost its <!-- http-examples --> block"
    return match.group(1)


async def _shell(script: str, env: dict[str, str], timeout: float = 60) -> str:
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        script,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, (out.decode(), err.decode())
    return out.decode()


async def test_the_readme_curl_examples_submit_call_and_stream(http_server: JobsvcServer) -> None:
    output = await _shell(_readme_examples(), {"JOBSVC_HTTP": f"http://127.0.0.1:{http_server.http_port}"})
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    submitted, called, *events = lines
    assert submitted["created"] is True and submitted["job"]["state"] == "JOB_STATE_QUEUED"
    assert called["job"]["state"] == "JOB_STATE_SUCCEEDED" and called["job"]["result"] == {"json": {"steps": 3.0}}
    kinds = [next(k for k in e["event"] if k not in ("jobId", "sequence", "time")) for e in events[:-1]]
    assert kinds[0] == "queued" and kinds[-1] == "succeeded" and "progress" in kinds and "partialOutput" in kinds
    assert events[-1] == {}  # the end of the stream: no error


async def test_http2_by_prior_knowledge(http_server: JobsvcServer) -> None:
    url = f"http://127.0.0.1:{http_server.http_port}/jobsvc.v1.SubmitService/Submit"
    out = await _shell(
        f"curl -sS --http2-prior-knowledge -w '\\n%{{http_version}}' {url} -H 'Content-Type: application/json' "
        """-d '{"job": {"handler": "echo", "input": {"json": 1}}}'""",
        {},
    )
    body, version = out.rsplit("\n", 1)
    assert version == "2" and json.loads(body)["created"] is True


async def test_binary_protobuf_unary_and_stream(http: httpx.AsyncClient) -> None:
    request = submit_service_pb2.SubmitRequest()
    request.job.handler = "steps"
    request.job.input.json.struct_value.update({"count": 2})
    response = await http.post(
        "/jobsvc.v1.SubmitService/Submit",
        content=request.SerializeToString(),
        headers={"content-type": "application/proto"},
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/proto"
    job = submit_service_pb2.SubmitResponse.FromString(response.content).job
    stream = await http.post(
        "/jobsvc.v1.StreamService/Stream",
        content=envelope(stream_service_pb2.StreamRequest(job_id=job.id).SerializeToString()),
        headers={"content-type": "application/connect+proto"},
    )
    assert stream.status_code == 200 and stream.headers["jobsvc-job-id"] == job.id
    parts = envelopes(stream.content)
    events = [stream_service_pb2.StreamResponse.FromString(data).event for _, data in parts[:-1]]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].WhichOneof("kind") == "succeeded"
    assert stream_end(stream.content) == {}


async def test_bad_input_gets_the_right_code_and_a_body(http: httpx.AsyncClient, http_server: JobsvcServer) -> None:
    limit = http_server.config.connection.max_message_bytes
    submit = "/jobsvc.v1.SubmitService/Submit"
    cases: list[tuple[str, str, dict[str, str], bytes, int, str, str]] = [
        # (what, path, headers, body, HTTP status, code, ErrorInfo reason)
        ("malformed JSON", submit, JSON, b"{bad", 400, "invalid_argument", "MALFORMED_REQUEST"),
        ("unknown field", submit, JSON, b'{"job": {"handlr": "echo"}}', 400, "invalid_argument", "MALFORMED_REQUEST"),
        ("wrong type", submit, JSON, b'{"job": {"handler": 7}}', 400, "invalid_argument", "MALFORMED_REQUEST"),
        ("not UTF-8", submit, JSON, b'{"job": {"handler": "\xff"}}', 400, "invalid_argument", "MALFORMED_REQUEST"),
        ("no handler", submit, JSON, b"{}", 400, "invalid_argument", "INVALID_ARGUMENT"),
        ("unknown handler", submit, JSON, b'{"job": {"handler": "nope"}}', 404, "not_found", "HANDLER_NOT_FOUND"),
        (
            "schema",
            submit,
            JSON,
            b'{"job": {"handler": "greet", "input": {"json": {"name": ""}}}}',
            400,
            "invalid_argument",
            "INPUT_SCHEMA_MISMATCH",
        ),
        ("oversized", submit, JSON, b" " * (limit + 1), 429, "resource_exhausted", "LIMIT_EXCEEDED"),
        ("unknown method", "/jobsvc.v1.SubmitService/Nope", JSON, b"{}", 404, "unimplemented", "NOT_FOUND"),
        ("bidi method", "/jobsvc.v1.AckService/Work", JSON, b"{}", 404, "unimplemented", "NOT_FOUND"),
        (
            "content type",
            submit,
            {"content-type": "text/plain"},
            b"{}",
            415,
            "unimplemented",
            "UNSUPPORTED_CONTENT_TYPE",
        ),
        (
            "unary type to Stream",
            "/jobsvc.v1.StreamService/Stream",
            JSON,
            b"{}",
            415,
            "unimplemented",
            "UNSUPPORTED_CONTENT_TYPE",
        ),
        (
            "compressed",
            submit,
            {**JSON, "content-encoding": "gzip"},
            b"{}",
            501,
            "unimplemented",
            "UNSUPPORTED_ENCODING",
        ),
        ("bad timeout", submit, {**JSON, "connect-timeout-ms": "soon"}, b"{}", 400, "invalid_argument", "BAD_TIMEOUT"),
    ]
    for what, path, headers, body, http_status, code, reason in cases:
        response = await http.post(path, content=body, headers=headers)
        assert response.status_code == http_status, (what, response.status_code, response.text)
        error = response.json()
        assert error["code"] == code, (what, error)
        assert reason_of(status_of(error)) == reason, (what, error)
    get = await http.get(submit)
    assert get.status_code == 405 and get.json()["code"] == "unimplemented"
    # NaN (which Python's JSON reader takes) is refused naming the field, as over gRPC.
    nan = await http.post(submit, content=b'{"job": {"handler": "echo", "input": {"json": NaN}}}', headers=JSON)
    assert nan.status_code == 400, nan.text
    assert _violations(status_of(nan.json()))[0][0] == "job.input"
    # Streams answer 200 and carry the error in their last envelope.
    for body, reason in ((b"\x00\x00\x00", "MALFORMED_ENVELOPE"), (envelope(b"{}"), "INVALID_ARGUMENT")):
        response = await http.post("/jobsvc.v1.StreamService/Stream", content=body, headers=STREAM_JSON)
        assert response.status_code == 200
        end = stream_end(response.content)
        assert end["error"]["code"] == "invalid_argument" and reason_of(status_of(end["error"])) == reason, end


def _grpc_status(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    return status


def _violations(status: status_pb2.Status) -> list[tuple[str, str]]:
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            return [(v.field, v.description) for v in bad.field_violations]
    return []


async def test_every_method_answers_as_over_grpc(http: httpx.AsyncClient, http_server: JobsvcServer) -> None:
    """The empty request to every method: the same code, message and details on both ports."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{http_server.port}") as channel:
        for method in jobsvc_methods():
            if method.client_streaming or method.name in ("ListJobs", "ListSchedules", "ListHandlers"):
                continue  # bidi needs gRPC; the listings answer OK
            answer = await call_async(channel, method, [b""])
            if method.server_streaming:
                response = await http.post(
                    path_of(method), content=envelope(b""), headers={"content-type": "application/connect+proto"}
                )
                error = stream_end(response.content).get("error")
            else:
                response = await http.post(path_of(method), content=b"", headers={"content-type": "application/proto"})
                error = None if response.status_code == 200 else response.json()
            if answer.error is None:
                assert error is None, (path_of(method), error)
                continue
            assert isinstance(answer.error, grpc.aio.AioRpcError) and error is not None, path_of(method)
            expected, got = _grpc_status(answer.error), status_of(error)
            assert (got.code, got.message, reason_of(got), _violations(got)) == (
                expected.code,
                expected.message,
                reason_of(expected),
                _violations(expected),
            ), path_of(method)


async def test_tokens_and_scopes_apply_as_over_grpc(start_server: StartServer) -> None:
    server = await start_server(http_port=0, auth=AuthConfig(tokens=TOKENS_SPEC))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}", timeout=30) as http:
        for method in jobsvc_methods():
            if method.client_streaming:
                continue
            scope = required_scope(method)
            streaming = method.server_streaming
            headers = {"content-type": "application/connect+proto" if streaming else "application/proto"}
            body = envelope(b"") if streaming else b""
            cases = [
                ({}, 401, "TOKEN_MISSING"),
                ({"authorization": f"Bearer {WRONG}"}, 401, "TOKEN_INVALID"),
                ({"authorization": f"Basic {SECRETS['everything']}"}, 401, "TOKEN_INVALID"),
                ({"authorization": f"Bearer {SECRETS[f'all-but-{scope}']}"}, 403, "SCOPE_MISSING"),
            ]
            for auth, http_status, reason in cases:
                response = await http.post(path_of(method), content=body, headers={**headers, **auth})
                error = stream_end(response.content)["error"] if streaming else response.json()
                assert response.status_code == (200 if streaming else http_status), (path_of(method), reason)
                assert reason_of(status_of(error)) == reason, (path_of(method), error)
            allowed = {"authorization": f"Bearer {SECRETS[f'only-{scope}']}"}
            response = await http.post(path_of(method), content=body, headers={**headers, **allowed})
            if not streaming:
                assert response.status_code not in (401, 403, 500), (path_of(method), response.text)
            else:
                assert stream_end(response.content).get("error", {}).get("code") not in (
                    "unauthenticated",
                    "permission_denied",
                    "internal",
                )


async def test_a_call_past_its_deadline_and_a_stream_left_by_its_client(http: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await http.post(
        "/jobsvc.v1.CallService/Call",
        json={"job": {"handler": "wait_cancel", "input": {"json": None}}},
        headers={"connect-timeout-ms": "300"},
    )
    assert response.status_code == 504 and response.json()["code"] == "deadline_exceeded"
    assert time.monotonic() - started < 5
    job_id = response.headers["jobsvc-job-id"]  # sent before the wait, as over gRPC
    request = {"jobId": job_id}
    async with http.stream(
        "POST", "/jobsvc.v1.StreamService/Stream", content=envelope(json.dumps(request).encode()), headers=STREAM_JSON
    ) as stream:
        async for chunk in stream.aiter_bytes():
            assert chunk  # the first events arrive while the job runs; then the client leaves
            break
    cancel = await http.post("/jobsvc.v1.JobService/CancelJob", json={"id": job_id})
    assert cancel.status_code == 200  # cancelling a running job: it stops at its next chance


async def test_the_http_port_stops_with_the_server(start_server: StartServer) -> None:
    server = await start_server(http_port=0)
    port = server.http_port
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        submitted = await http.post("/jobsvc.v1.SubmitService/Submit", json={"job": {"handler": "wait_cancel"}})
        job_id = submitted.json()["job"]["id"]
        body = envelope(json.dumps({"jobId": job_id}).encode())
        async with http.stream("POST", "/jobsvc.v1.StreamService/Stream", content=body, headers=STREAM_JSON) as s:
            started = time.monotonic()
            stopping = asyncio.create_task(server.stop(grace=0.5))
            # The open stream ends (cut after the grace period; the job goes back to the queue).
            with contextlib.suppress(httpx.HTTPError):
                async for _ in s.aiter_bytes():
                    pass
            await stopping
            assert time.monotonic() - started < 10
        with pytest.raises(httpx.ConnectError):
            await http.post("/jobsvc.v1.SubmitService/Submit", json={})


def test_the_dashboard_files_ship_in_the_package() -> None:
    static = REPO / "jobsvc" / "web" / "static"
    assert {p.name for p in static.iterdir()} >= {"index.html", "app.js", "style.css"}
    for page in static.iterdir():
        assert not re.search(r"(src|href)=\"https?://", page.read_text()), f"{page} loads from elsewhere"
    assert Path(static / "index.html").read_text().startswith("<!doctype html>")


async def test_queue_stats_per_handler_version(http: httpx.AsyncClient) -> None:
    for handler in ("echo", "fail", "wait_cancel"):
        await http.post(
            "/jobsvc.v1.CallService/Call", json={"job": {"handler": handler}}, headers={"connect-timeout-ms": "300"}
        )
    await http.post("/jobsvc.v1.SubmitService/Submit", json={"job": {"handler": "echo", "delay": "60s"}})
    response = await http.post("/jobsvc.v1.StatsService/GetQueueStats", json={})
    assert response.status_code == 200, response.text
    stats = {(v["handler"], v["version"]): v for v in response.json()["versions"]}
    assert stats[("echo", "1.0.0")]["succeeded"] == "1" and stats[("echo", "1.0.0")]["scheduled"] == "1"
    assert stats[("echo", "1.0.0")]["waiting"] == [{"reason": "WAIT_REASON_SCHEDULED", "count": "1"}]
    assert stats[("fail", "1.0.0")]["failed"] == "1"
    assert stats[("wait_cancel", "1.0.0")]["running"] == "1"
    assert response.json()["window"] == "3600s"
    timeline = response.json()["timeline"]
    assert sum(int(b.get("succeeded", 0)) for b in timeline) == 1
    assert sum(int(b.get("failed", 0)) for b in timeline) == 1
    bad = await http.post("/jobsvc.v1.StatsService/GetQueueStats", json={"window": "0.5s"})
    assert bad.status_code == 400 and _violations(status_of(bad.json())) == [("window", "1 second to 24 hours")]


async def test_the_http_port_speaks_tls_and_mutual_tls_with_the_grpc_ports_files(
    start_server: StartServer, certs: Certs
) -> None:
    tls = TlsConfig(cert=certs.server_cert, key=certs.server_key, client_ca=certs.client_ca)
    server = await start_server(http_port=0, tls=tls)
    url = f"https://localhost:{server.http_port}/jobsvc.v1.SubmitService/Submit"
    body = {"job": {"handler": "echo", "input": {"json": 1}}}
    with_cert = ssl.create_default_context(cafile=str(certs.ca))
    with_cert.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    async with httpx.AsyncClient(verify=with_cert, http2=False) as http:
        response = await http.post(url, json=body)
        assert response.status_code == 200 and response.json()["created"] is True
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(certs.ca))) as http:
        with pytest.raises(httpx.HTTPError):  # no client certificate
            await http.post(url, json=body)
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.HTTPError):  # plaintext to a TLS port
            await http.post(url.replace("https", "http"), json=body)


async def test_list_workers_sees_the_sessions_of_every_replica(
    start_server: StartServer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker connected to one replica is listed by another (the directory is in
    PostgreSQL), with its in-flight count refreshed; a dead replica's row is ignored, and
    the session's row goes when it ends."""
    monkeypatch.setattr(workers, "SESSIONS_REFRESH_EVERY", 0.2)
    holding = await start_server(handler_modules=[])
    listing = await start_server(handler_modules=[], http_port=0)
    table = HandlerTable([d for d in load_module("tests.handlers").handlers if d.name in ("echo", "wait_cancel")])
    worker = RemoteWorker(f"127.0.0.1:{holding.port}", table, config=WorkerConfig(worker_id="w-dash", concurrency=3))
    running = asyncio.create_task(worker.run())
    connection = await asyncpg.connect(database_url)
    try:
        await asyncio.wait_for(worker.connected.wait(), 10)
        # A row left by a replica that died a minute ago.
        await connection.execute(
            "INSERT INTO jobsvc_worker_sessions (session_id, worker_id, handlers, capacity, replica, refreshed_at)"
            " VALUES ('gone', 'w-gone', '{echo@1.0.0}', 1, 'dead-replica', now() - interval '1 minute')"
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listing.http_port}", timeout=30) as http:
            submitted = await http.post("/jobsvc.v1.SubmitService/Submit", json={"job": {"handler": "wait_cancel"}})
            job_id = submitted.json()["job"]["id"]

            async def listed() -> list[dict[str, Any]]:
                response = await http.post("/jobsvc.v1.WorkerDirectoryService/ListWorkers", json={})
                assert response.status_code == 200, response.text
                found: list[dict[str, Any]] = response.json().get("workers", [])
                return found

            deadline = time.monotonic() + 10
            while not (found := await listed()) or found[0].get("inFlight") != 1:
                assert time.monotonic() < deadline, found
                await asyncio.sleep(0.1)
            [session] = found
            assert session["workerId"] == "w-dash" and session["capacity"] == 3
            assert session["replica"] == holding.config.name
            assert {(h["name"], h["version"]) for h in session["handlers"]} == {
                ("echo", "1.0.0"),
                ("wait_cancel", "1.0.0"),
            }
            assert session["connectTime"] <= session["refreshTime"]
            await http.post("/jobsvc.v1.JobService/CancelJob", json={"id": job_id})
            worker.stop()
            await asyncio.wait_for(running, 10)
            deadline = time.monotonic() + 10
            while found := await listed():  # the replica ends the session after the worker left
                assert time.monotonic() < deadline, found
                await asyncio.sleep(0.1)
        # The refreshes of the live replica deleted the dead one's row.
        assert await connection.fetchval("SELECT count(*) FROM jobsvc_worker_sessions") == 0
    finally:
        worker.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, 10)
        await connection.close()


async def test_list_jobs_by_version_and_creation_time(http: httpx.AsyncClient) -> None:
    async def submit() -> dict[str, Any]:
        response = await http.post(
            "/jobsvc.v1.SubmitService/Submit", json={"job": {"handler": "echo", "delay": "600s"}}
        )
        job: dict[str, Any] = response.json()["job"]
        return job

    first, second, third = [await submit() for _ in range(3)]

    async def listed(**filters: str) -> list[str]:
        response = await http.post("/jobsvc.v1.JobService/ListJobs", json={"view": "JOB_VIEW_BASIC", **filters})
        assert response.status_code == 200, response.text
        return [j["id"] for j in response.json().get("jobs", [])]

    assert await listed(createdAfter=second["createTime"]) == [third["id"], second["id"]]
    assert await listed(createdBefore=second["createTime"]) == [first["id"]]
    assert await listed(createdAfter=first["createTime"], createdBefore=third["createTime"]) == [
        second["id"],
        first["id"],
    ]
    assert await listed(version="1.0.0", handler="echo") == [third["id"], second["id"], first["id"]]
    assert await listed(version="9.9.9") == []
    bad = await http.post(
        "/jobsvc.v1.JobService/ListJobs",
        json={"createdAfter": third["createTime"], "createdBefore": first["createTime"]},
    )
    assert bad.status_code == 400
    assert _violations(status_of(bad.json())) == [("created_before", "must be after created_after")]
