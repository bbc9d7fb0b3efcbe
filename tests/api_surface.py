"""The whole jobsvc.v1 surface, read from the generated file descriptors, and a generic
way to call any of its methods with raw request bytes: a method added to the proto is
covered by every test that uses this module without editing it."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import grpc
from google.protobuf.descriptor import MethodDescriptor

import jobsvc.v1


def jobsvc_methods() -> list[MethodDescriptor]:
    """Every method of every service declared in the jobsvc.v1 files."""
    methods = []
    for module_info in sorted(pkgutil.iter_modules(jobsvc.v1.__path__), key=lambda m: m.name):
        if module_info.name.endswith("_pb2"):
            module = importlib.import_module(f"jobsvc.v1.{module_info.name}")
            for service in module.DESCRIPTOR.services_by_name.values():
                methods.extend(service.methods)
    return methods


def path_of(method: MethodDescriptor) -> str:
    """/package.Service/Method, as on the wire."""
    return f"/{method.containing_service.full_name}/{method.name}"


@dataclass(frozen=True)
class Answer:
    """How a call ended: its code, and the error (None when OK)."""

    code: grpc.StatusCode
    error: grpc.RpcError | None


async def call_async(
    channel: grpc.aio.Channel,
    method: MethodDescriptor,
    requests: Sequence[bytes],
    *,
    metadata: Sequence[tuple[str, str]] = (),
    timeout: float = 10.0,
) -> Answer:
    """Call any method with raw request bytes (the first for unary requests); read every response."""
    path = path_of(method)
    try:
        if method.client_streaming:
            factory = channel.stream_stream if method.server_streaming else channel.stream_unary
            call = factory(path)(iter(requests), metadata=metadata, timeout=timeout)
        else:
            factory = channel.unary_stream if method.server_streaming else channel.unary_unary
            call = factory(path)(requests[0], metadata=metadata, timeout=timeout)
        if method.server_streaming:
            async for _ in call:
                pass
        else:
            await call
    except grpc.aio.AioRpcError as exc:
        return Answer(exc.code(), exc)
    return Answer(grpc.StatusCode.OK, None)


def call_sync(
    channel: grpc.Channel,
    method: MethodDescriptor,
    requests: Sequence[bytes],
    *,
    metadata: Sequence[tuple[str, str]] = (),
    timeout: float = 10.0,
) -> Answer:
    """call_async for a blocking channel (hypothesis drives tests synchronously)."""
    path = path_of(method)
    try:
        if method.client_streaming:
            factory = channel.stream_stream if method.server_streaming else channel.stream_unary
            call = factory(path)(_iterate(requests), metadata=metadata, timeout=timeout)
        else:
            factory = channel.unary_stream if method.server_streaming else channel.unary_unary
            call = factory(path)(requests[0], metadata=metadata, timeout=timeout)
        if method.server_streaming:
            for _ in call:
                pass
    except grpc.RpcError as exc:
        return Answer(exc.code(), exc)  # type: ignore[attr-defined]
    return Answer(grpc.StatusCode.OK, None)


def _iterate(requests: Sequence[bytes]) -> Iterator[bytes]:
    yield from requests
