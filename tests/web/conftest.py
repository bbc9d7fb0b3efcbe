"""Fixtures of the HTTP port's tests: a server with its HTTP port on, and an HTTP client of it."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2

from jobsvc.server import JobsvcServer
from tests.api.test_security import certs  # noqa: F401 (the TLS files fixture, shared with the gRPC tests)
from tests.conftest import StartServer


@pytest.fixture
async def http_server(start_server: StartServer) -> JobsvcServer:
    """One server serving tests.handlers, with the HTTP port on a free port."""
    return await start_server(http_port=0)


@pytest.fixture
async def http(http_server: JobsvcServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP/1.1 client of http_server's HTTP port."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_server.http_port}", timeout=30) as client:
        yield client


def envelope(data: bytes, flags: int = 0) -> bytes:
    """One message of a Connect streaming body."""
    return bytes([flags]) + len(data).to_bytes(4, "big") + data


def envelopes(body: bytes) -> list[tuple[int, bytes]]:
    """The (flags, message) envelopes of a Connect streaming body."""
    found, at = [], 0
    while at < len(body):
        flags, length = body[at], int.from_bytes(body[at + 1 : at + 5], "big")
        found.append((flags, body[at + 5 : at + 5 + length]))
        at += 5 + length
    assert at == len(body), "a truncated envelope"
    return found


def status_of(error: dict[str, Any]) -> status_pb2.Status:
    """A Connect error object read back into the google.rpc.Status it carries."""
    status = status_pb2.Status(code=CODES[error["code"]], message=error["message"])
    for detail in error.get("details", []):
        value = detail["value"]
        status.details.add(
            type_url=f"type.googleapis.com/{detail['type']}", value=base64.b64decode(value + "=" * (-len(value) % 4))
        )
    return status


CODES = {("canceled" if c == grpc.StatusCode.CANCELLED else c.name.lower()): c.value[0] for c in grpc.StatusCode}


def reason_of(status: status_pb2.Status) -> str:
    """The ErrorInfo reason among a status's details."""
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    raise AssertionError(f"no ErrorInfo in {status}")


def stream_end(body: bytes) -> dict[str, Any]:
    """The end-of-stream message of a Connect streaming response (asserting it is last)."""
    parts = envelopes(body)
    flags, data = parts[-1]
    assert flags == 2, parts
    assert all(f == 0 for f, _ in parts[:-1])
    end: dict[str, Any] = json.loads(data)
    return end
