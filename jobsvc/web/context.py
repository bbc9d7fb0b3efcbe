"""A stand-in for grpc.aio.ServicerContext, so the gRPC servicers, the token check and the
telemetry serve HTTP requests unchanged: the same code answers both transports.

The servicers end a call with `abort_with_status` (jobsvc.api.status.abort); here that
records the google.rpc.Status and raises grpc.aio.AbortError, which the error mapping lets
through as it does under grpc. Only what jobsvc's servicers use is implemented.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import NoReturn

import grpc
from google.rpc import code_pb2, status_pb2

from jobsvc.web.connect import grpc_code

STATUS_DETAILS_KEY = "grpc-status-details-bin"
Metadata = Sequence[tuple[str, str]]


class HttpAbort(grpc.aio.AbortError):
    """Raised by HttpServicerContext.abort*: the call has ended with `status`."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.status = status


class HttpServicerContext:
    """What one HTTP request looks like to a servicer: its headers as invocation metadata,
    its peer, its deadline; response headers and the final status recorded for the transport."""

    def __init__(
        self,
        headers: Metadata,
        peer: str,
        deadline: float | None,
        on_initial_metadata: Callable[[Metadata], Awaitable[None]] | None = None,
    ) -> None:
        self._headers = tuple(headers)
        self._peer = peer
        self._deadline = deadline
        self._on_initial_metadata = on_initial_metadata
        self.initial_metadata: list[tuple[str, str]] = []
        self.status: status_pb2.Status | None = None

    def invocation_metadata(self) -> Metadata:
        """The request's headers, names lower-cased (what grpc gives as metadata)."""
        return self._headers

    def peer(self) -> str:
        """The client's address, in grpc's form (`ipv4:127.0.0.1:5000`)."""
        return self._peer

    def time_remaining(self) -> float | None:
        """Seconds until the request's Connect-Timeout-Ms passes; None without one."""
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    async def send_initial_metadata(self, metadata: Metadata) -> None:
        """Response headers (jobsvc-job-id), sent before the response (or the stream) starts."""
        self.initial_metadata.extend((key, str(value)) for key, value in metadata)
        if self._on_initial_metadata is not None:
            await self._on_initial_metadata(metadata)

    async def abort_with_status(self, status: grpc.Status) -> NoReturn:
        """End the call with a rich status (what jobsvc.api.status.abort sends)."""
        for key, value in status.trailing_metadata or ():
            if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
                self.status = status_pb2.Status.FromString(value)
                break
        else:
            self.status = status_pb2.Status(code=grpc_code(status.code), message=status.details or "")
        raise HttpAbort(self.status)

    async def abort(self, code: grpc.StatusCode, details: str = "", trailing_metadata: Metadata = ()) -> NoReturn:
        """End the call with a plain status."""
        self.status = status_pb2.Status(code=grpc_code(code), message=details)
        raise HttpAbort(self.status)

    def code(self) -> grpc.StatusCode | None:
        """The status the call ended with so far (None: not ended by an abort), for telemetry."""
        if self.status is None or self.status.code == code_pb2.OK:
            return None
        return next((c for c in grpc.StatusCode if grpc_code(c) == self.status.code), grpc.StatusCode.UNKNOWN)
