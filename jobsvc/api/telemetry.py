"""Metrics and server spans for every jobsvc RPC, unary and streaming.

Wraps each servicer method when it is registered (status.add_service) rather than
through a grpc interceptor: an aio interceptor adds a coroutine and a continuation to
every call, a wrapper only a clock read and a histogram update. With metrics and
tracing both off, nothing is wrapped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc

from jobsvc.observability.metrics import Metrics
from jobsvc.observability.tracing import Tracing

# A session (Work) lasts as long as the worker: a span over it would say nothing.
UNTRACED_METHODS = frozenset({"/jobsvc.v1.AckService/Work"})

# context.code() gives None until a code is set (an RPC answered normally is OK), else a
# grpc.StatusCode (or its number, when set as one).
_CODE_NAMES: dict[Any, str] = {None: "OK"}
_CODE_NAMES.update((code, code.name) for code in grpc.StatusCode)
_CODE_NAMES.update((code.value[0], code.name) for code in grpc.StatusCode)

Behaviour = Callable[..., Any]


class RpcTelemetry:
    """Times each RPC into the metrics and runs it inside a server span when tracing is on."""

    def __init__(self, metrics: Metrics, tracing: Tracing | None) -> None:
        self._metrics = metrics
        self._tracing = tracing

    @property
    def active(self) -> bool:
        """False when there is nothing to record: methods are then registered unwrapped."""
        return self._metrics.enabled or self._tracing is not None

    def wrap(self, behaviour: Behaviour, method: str, server_streaming: bool) -> Behaviour:
        """`behaviour` (a servicer method) timed and traced as `method` (/package.Service/Method)."""
        if server_streaming:
            return self._wrap_streaming(behaviour, method)
        return self._wrap_unary(behaviour, method)

    def _wrap_unary(self, behaviour: Callable[..., Awaitable[Any]], method: str) -> Behaviour:
        metrics = self._metrics
        if self._tracing is None:
            # The hot path (Submit): a clock read on each side and one histogram update.
            async def timed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                started = time.perf_counter()
                failure: BaseException | None = None
                try:
                    return await behaviour(request, context)
                except BaseException as exc:
                    failure = exc
                    raise
                finally:
                    metrics.rpc(method, _status_name(context, failure), time.perf_counter() - started)

            return timed

        async def observed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started = time.perf_counter()
            failure: BaseException | None = None
            try:
                with self._span(method, context):
                    return await behaviour(request, context)
            except BaseException as exc:
                failure = exc
                raise
            finally:
                metrics.rpc(method, _status_name(context, failure), time.perf_counter() - started)

        return observed

    def _wrap_streaming(self, behaviour: Callable[..., AsyncGenerator[Any]], method: str) -> Behaviour:
        async def observed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            started = time.perf_counter()
            failure: BaseException | None = None
            try:
                # aclosing: when the caller goes away while this wrapper is suspended at its
                # yield, the servicer's generator is closed now (its cleanup runs), not at GC.
                with self._span(method, context):
                    async with contextlib.aclosing(behaviour(request, context)) as responses:
                        async for response in responses:
                            yield response
            except BaseException as exc:
                failure = exc
                raise
            finally:
                self._metrics.rpc(method, _status_name(context, failure), time.perf_counter() - started)

        return observed

    @contextmanager
    def _span(self, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> Iterator[None]:
        if self._tracing is None or method in UNTRACED_METHODS:
            yield
            return
        with self._tracing.rpc_span(method, context.invocation_metadata()) as span:
            failure: BaseException | None = None
            try:
                yield
            except BaseException as exc:
                failure = exc
                raise
            finally:
                code = _status_name(context, failure)
                span.set_attribute("rpc.grpc.status_code", code)
                if code != "OK":
                    Tracing.set_error(span, code)


def _status_name(context: grpc.aio.ServicerContext[Any, Any], failure: BaseException | None) -> str:
    """The status the RPC ended with: what abort() set, CANCELLED for a caller that left."""
    if isinstance(failure, asyncio.CancelledError):
        return "CANCELLED"
    code = _CODE_NAMES.get(context.code(), "UNKNOWN")
    if failure is not None and not isinstance(failure, grpc.aio.AbortError) and code == "OK":
        return "UNKNOWN"  # an exception grpc itself answers; the servicers never let one out
    return code
