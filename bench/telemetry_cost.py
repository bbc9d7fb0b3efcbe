"""What recording costs per RPC and per job transition, measured in-process.

    python -m bench.telemetry_cost

The end-to-end benchmark (`python -m bench.run --metrics` against a run without) is the
real figure but is noisy on a shared machine; this isolates the added work: the RPC
wrapper of jobsvc.api.telemetry around a servicer that does nothing, and the metric
updates of a submit and of a transition. Microseconds per call, best of 5 rounds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from jobsvc.api.telemetry import RpcTelemetry
from jobsvc.domain.jobs import JobState, Transition
from jobsvc.observability.metrics import Metrics, PrometheusMetrics
from jobsvc.observability.tracing import Tracing

CALLS = 50_000
ROUNDS = 5
METHOD = "/jobsvc.v1.SubmitService/Submit"


class _Context:
    """The two ServicerContext methods the wrapper reads."""

    def code(self) -> None:
        return None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()


async def _servicer(request: Any, context: Any) -> Any:
    return request


async def _per_rpc(method: Callable[[Any, Any], Awaitable[Any]]) -> float:
    context = _Context()
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(CALLS):
            await method(1, context)
        best = min(best, (time.perf_counter() - started) / CALLS)
    return best * 1e6


def _per_call(action: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(CALLS):
            action()
        best = min(best, (time.perf_counter() - started) / CALLS)
    return best * 1e6


async def main() -> None:
    """Print the figures."""
    metrics = PrometheusMetrics()
    bare = await _per_rpc(_servicer)
    timed = await _per_rpc(RpcTelemetry(metrics, None).wrap(_servicer, METHOD, False))
    traced = await _per_rpc(RpcTelemetry(metrics, Tracing(TracerProvider())).wrap(_servicer, METHOD, False))
    done = Transition("id", "echo", "1.0.0", 1, JobState.SUCCEEDED, None, 0.01, 0.02)
    off = Metrics()
    print(f"RPC wrapper, metrics on:               {timed - bare:6.2f} us per RPC")
    print(f"RPC wrapper, metrics and tracing on:   {traced - bare:6.2f} us per RPC (a span, no exporter)")
    print(f"submit counted:                        {_per_call(lambda: metrics.job_submitted('echo', '1.0.0')):6.2f} us")
    print(f"success recorded (counter, 2 histograms): {_per_call(lambda: metrics.transition(done)):6.2f} us")
    print(f"success with metrics off:              {_per_call(lambda: off.transition(done)):6.2f} us")


if __name__ == "__main__":
    asyncio.run(main())
