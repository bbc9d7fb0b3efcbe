"""The built-in jobsvc.http handler against real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from jobsvc import RetryPolicy
from jobsvc.cli import build_parser, server_config
from jobsvc.domain.flow import ConcurrencyLimit, RateLimit, render_key
from jobsvc.handlers.http_delivery import HOST_KEY, HttpDeliveryConfig, retry_after_seconds
from jobsvc.sdk import Client, payload_value
from jobsvc.v1 import job_pb2
from tests.conftest import StartServer
from tests.http_receivers import SIGNING_SECRET, Receiver, receiver
from tests.readme import readme_block

SUCCEEDED, FAILED = job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_FAILED
# Fast retries; loopback allowed, as tests must (refused by default: see the last test).
TEST_CONFIG = HttpDeliveryConfig(
    enabled=True,
    allow_private_targets=True,
    secrets={"hooks": SIGNING_SECRET},
    timeout=0.5,
    max_response_bytes=65536,
    retry_policy=RetryPolicy(initial_interval=0.05, backoff_coefficient=1.0, maximum_attempts=4),
)


@pytest.fixture
def http() -> Iterator[Receiver]:
    with receiver() as server:
        yield server


@pytest.fixture
async def client(start_server: StartServer) -> AsyncIterator[Client]:
    server = await start_server(http_delivery=TEST_CONFIG)
    async with Client(f"127.0.0.1:{server.port}") as c:
        yield c


async def deliver(client: Client, request: dict[str, object]) -> job_pb2.Job:
    return await client.call("jobsvc.http", request, timeout=20)


async def test_503_twice_then_success(client: Client, http: Receiver) -> None:
    job = await deliver(client, {"url": f"{http.base}/flaky", "json": {"event": "paid"}})
    assert job.state == SUCCEEDED and job.attempt == 3
    result = payload_value(job.result)
    assert result["status"] == 200 and result["body"] == "done" and result["timings"]["total_seconds"] > 0
    assert [s.body for s in http.requests_to("/flaky")] == [b'{"event":"paid"}'] * 3


async def test_429_waits_for_retry_after(client: Client, http: Receiver) -> None:
    job = await deliver(client, {"url": f"{http.base}/rate-limited", "method": "POST", "body": "x"})
    assert job.state == SUCCEEDED and job.attempt == 2
    first, second = http.requests_to("/rate-limited")
    assert second.at - first.at >= 0.9, "Retry-After: 1 was not honoured (the policy's backoff is 0.05 s)"


async def test_a_hanging_receiver_times_out_and_is_retried(client: Client, http: Receiver) -> None:
    job = await deliver(client, {"url": f"{http.base}/hang", "timeout_seconds": 0.2})
    assert job.state == FAILED and job.attempt == 4
    assert job.error.type.endswith("DeliveryTimedOut") and len(http.requests_to("/hang")) == 4


async def test_404_fails_at_once(client: Client, http: Receiver) -> None:
    job = await deliver(client, {"url": f"{http.base}/missing"})
    assert job.state == FAILED and job.attempt == 1
    assert job.error.type.endswith("DeliveryRejected") and "HTTP 404" in job.error.message


async def test_a_redirect_loop_is_cut(client: Client, http: Receiver) -> None:
    job = await deliver(client, {"url": f"{http.base}/loop", "method": "GET"})
    assert job.state == FAILED and job.attempt == 1 and "more than 5 redirects" in job.error.message
    assert len(http.requests_to("/loop")) == 6


async def test_an_endless_body_is_cut_at_the_limit(client: Client, http: Receiver) -> None:
    job = await deliver(client, {"url": f"{http.base}/endless", "method": "GET"})
    assert job.state == SUCCEEDED
    result = payload_value(job.result)
    assert result["truncated"] is True and len(result["body"]) == 65536


async def test_a_signed_request_is_verified_by_the_receiver(client: Client, http: Receiver) -> None:
    job = await deliver(client, {"url": f"{http.base}/signed", "json": {"n": 1}, "signing_secret": "hooks"})
    assert job.state == SUCCEEDED, job.error.message
    [seen] = http.requests_to("/signed")
    assert seen.headers["Jobsvc-Signature"].startswith("t=")


async def test_an_unknown_secret_fails_without_sending(client: Client, http: Receiver) -> None:
    job = await deliver(client, {"url": f"{http.base}/signed", "signing_secret": "nope"})
    assert job.state == FAILED and job.attempt == 1 and "'nope' is not configured" in job.error.message
    assert http.seen == []


async def test_a_private_target_is_refused_by_default(start_server: StartServer, http: Receiver) -> None:
    server = await start_server(http_delivery=HttpDeliveryConfig(enabled=True))
    async with Client(f"127.0.0.1:{server.port}") as client:
        job = await deliver(client, {"url": f"{http.base}/ok"})
    assert job.state == FAILED and job.attempt == 1 and job.error.type.endswith("TargetRefused")
    assert "127.0.0.1" in job.error.message and http.seen == []


async def test_one_request_at_a_time_per_host_while_other_hosts_run_in_parallel(
    start_server: StartServer,
) -> None:
    # Two receivers on one address, two ports: two hosts, since the key is host:port.
    config = dataclasses.replace(TEST_CONFIG, host_concurrency=1, timeout=5.0)
    server = await start_server(http_delivery=config)
    with receiver() as first, receiver() as second:
        async with Client(f"127.0.0.1:{server.port}") as client:
            jobs = await asyncio.gather(
                *(deliver(client, {"url": f"{target.base}/slow"}) for target in (first, second) for _ in range(4))
            )
    assert all(job.state == SUCCEEDED for job in jobs), [job.error.message for job in jobs]
    assert jobs[0].concurrency_key == f"jobsvc.http:127.0.0.1:{first.server_address[1]}"
    assert first.most_in_flight == 1 and second.most_in_flight == 1
    overlapping = [(a, b) for a in first.slow_spans for b in second.slow_spans if a[0] < b[1] and b[0] < a[1]]
    assert overlapping, "the two hosts were not served in parallel"


async def test_a_job_without_a_url_host_is_refused_at_submit(start_server: StartServer) -> None:
    server = await start_server(http_delivery=dataclasses.replace(TEST_CONFIG, host_rate=5))
    async with Client(f"127.0.0.1:{server.port}") as client:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await client.submit("jobsvc.http", {"url": "http://:8080/no-host"})
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "must be an http(s) URL with a host" in str(refused.value.details())


def test_the_host_key_is_host_and_port_of_the_url() -> None:
    def key(url: str) -> str:
        return render_key("{input.url|host}", handler="h", version="1", input={"url": url}, labels={}, field="f")

    assert key("https://API.Example.com/x?y") == "api.example.com:443"
    assert key("http://user:pw@127.0.0.1:8080/") == "127.0.0.1:8080"
    assert key("http://[::1]/") == "[::1]:80"


def test_serve_flags_set_the_host_limits() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--http-delivery",
            "--http-host-concurrency",
            "2",
            "--http-host-rate",
            "10",
            "--http-host-rate-period",
            "60",
        ]
    )
    flow = server_config(args).http_delivery.flow()
    assert flow.concurrency == ConcurrencyLimit(2, HOST_KEY) and flow.rate == RateLimit(10, 60.0, HOST_KEY)


def test_host_limits_out_of_range_name_their_option() -> None:
    with pytest.raises(ValueError, match="--http-host-concurrency"):
        HttpDeliveryConfig(host_concurrency=0).flow()
    with pytest.raises(ValueError, match="--http-host-rate-period"):
        HttpDeliveryConfig(host_rate=3, host_rate_period=0).flow()
    assert not HttpDeliveryConfig().flow()


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0) == 60.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


async def test_readme_example(client: Client, http: Receiver) -> None:
    namespace: dict[str, Any] = {}
    exec(readme_block("http-delivery-python", "python"), namespace)
    response = await namespace["deliver_paid_event"](client, http.base)
    assert response["status"] == 200 and len(http.requests_to("/signed")) == 1


def test_secrets_come_from_the_config_and_its_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text('hooks = "from-file"\nbilling = "b"\n')
    config = HttpDeliveryConfig(secrets={"hooks": "inline", "other": "o"}, secrets_file=path)
    assert config.all_secrets() == {"hooks": "from-file", "other": "o", "billing": "b"}
    with pytest.raises(ValueError, match="--http-secrets-file"):
        HttpDeliveryConfig(secrets_file=tmp_path / "missing.toml").all_secrets()
