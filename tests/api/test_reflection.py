"""Server reflection: grpc.reflection.v1 (what current grpcurl, Postman and buf curl ask
first) and v1alpha, each with authentication off and on."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection_pb2

from jobsvc.api.auth import AuthConfig, token_digest
from jobsvc.server import SERVICE_NAMES, JobsvcServer
from tests.conftest import REPO, StartServer
from tests.toolchains import run_tool

V1 = "grpc.reflection.v1.ServerReflection"
V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
TOKEN = "tok-reflection-work-only-4b1e9a"
Metadata = tuple[tuple[str, str], ...]
BEARER: Metadata = (("authorization", f"Bearer {TOKEN}"),)


@pytest.fixture(params=["auth off", "auth on"])
async def served(request: pytest.FixtureRequest, start_server: StartServer) -> tuple[JobsvcServer, Metadata]:
    """A server and the metadata a reflection client sends it."""
    if request.param == "auth off":
        return await start_server(), ()
    # A token of the one scope that has nothing to do with reflection: any valid token will do.
    return await start_server(auth=AuthConfig(tokens=f"worker:work:{token_digest(TOKEN)}")), BEARER


async def reflect(
    target: str, service: str, requests: Sequence[reflection_pb2.ServerReflectionRequest], metadata: Metadata
) -> list[reflection_pb2.ServerReflectionResponse]:
    """One ServerReflectionInfo call to `service` (v1 or v1alpha)."""
    # v1's messages are v1alpha's under another package name, with the same fields and
    # numbers: the v1alpha classes write a v1 request byte for byte.
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.stream_stream(
            f"/{service}/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        return [response async for response in call(iter(requests), metadata=metadata, timeout=10)]


def files_of(response: reflection_pb2.ServerReflectionResponse) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """The file descriptors of a file_descriptor_response, by file name."""
    assert response.WhichOneof("message_response") == "file_descriptor_response", response
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(b)
        for b in response.file_descriptor_response.file_descriptor_proto
    ]
    return {f.name: f for f in files}


@pytest.mark.parametrize("service", [V1, V1ALPHA])
async def test_reflection_lists_and_describes_the_services(served: tuple[JobsvcServer, Metadata], service: str) -> None:
    server, metadata = served
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="jobsvc.v1.SubmitService"),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=service),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="jobsvc.v1.NoSuchService"),
    ]
    listed, submit, itself, missing = await reflect(f"127.0.0.1:{server.port}", service, requests, metadata)

    names = {s.name for s in listed.list_services_response.service}
    assert names == {*SERVICE_NAMES, health.SERVICE_NAME, V1, V1ALPHA}

    files = files_of(submit)
    submit_file = files["jobsvc/v1/submit_service.proto"]
    assert [s.name for s in submit_file.service] == ["SubmitService"]
    assert set(submit_file.dependency) <= set(files), "every dependency comes along"

    # The reflection service describes itself under the name it was asked by.
    package, _, name = service.rpartition(".")
    [own] = [f for f in files_of(itself).values() if f.package == package]
    [method] = next(s for s in own.service if s.name == name).method
    assert (method.name, method.input_type) == ("ServerReflectionInfo", f".{package}.ServerReflectionRequest")

    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


@pytest.mark.parametrize("service", [V1, V1ALPHA])
async def test_reflection_needs_a_valid_token_when_authentication_is_on(
    start_server: StartServer, service: str
) -> None:
    server = await start_server(auth=AuthConfig(tokens=f"worker:work:{token_digest(TOKEN)}"))
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    for metadata in ((), (("authorization", "Bearer tok-nobody-knows-this-one-77"),)):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await reflect(f"127.0.0.1:{server.port}", service, [request], metadata)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, (service, metadata)


BUF = REPO / "tools" / "node_modules" / ".bin" / "buf"


@pytest.mark.skipif(not BUF.exists(), reason="buf is not installed (cd tools && npm install)")
async def test_buf_curl_lists_the_methods_over_reflection_v1(
    served: tuple[JobsvcServer, Metadata], tmp_path: Path
) -> None:
    """A reflection client that is not ours, held to v1."""
    server, metadata = served
    headers = [f"--reflect-header={name}: {value}" for name, value in metadata]
    code, output = await run_tool(
        str(BUF),
        "curl",
        "--protocol=grpc",
        "--http2-prior-knowledge",
        "--reflect-protocol=grpc-v1",
        *headers,
        "--list-methods",
        f"http://127.0.0.1:{server.port}",
        cwd=tmp_path,
        env={**os.environ, "BUF_CACHE_DIR": str(tmp_path / "cache")},
        timeout=60,
    )
    assert code == 0, output
    methods = set(output.splitlines())
    assert {
        "jobsvc.v1.SubmitService/Submit",
        f"{V1}/ServerReflectionInfo",
        f"{V1ALPHA}/ServerReflectionInfo",
    } <= methods
