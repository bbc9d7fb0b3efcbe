"""jobsvc.handlers.invoke: a handler's own TimeoutError is its failure, not the attempt's
timeout (found under Patroni: a fault handler's ledger write timed out during the failover,
and with no attempt timeout the executor's task died formatting None)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from jobsvc.domain.handlers import HandlerDefinition, JobContext
from jobsvc.domain.jobs import Payload
from jobsvc.domain.versions import Version
from jobsvc.handlers.invoke import ATTEMPT_TIMEOUT, Invoker


class _NoEvents:
    def progress(self, percent: float, message: str) -> None:
        pass

    def partial_output(self, output: Any) -> None:
        pass


async def _times_out_itself(ctx: JobContext, value: Any) -> None:
    await asyncio.wait_for(asyncio.sleep(1), 0.01)  # a call of the handler's that timed out


async def _hangs(ctx: JobContext, value: Any) -> None:
    await asyncio.sleep(3600)


async def _run(func: Any, timeout: float | None) -> tuple[str, str]:
    definition = HandlerDefinition(name="t", version=Version.parse("1.0.0"), func=func)
    ctx = JobContext(
        job_id="j",
        handler="t",
        version="1.0.0",
        attempt=1,
        labels={},
        resources={},
        sink=_NoEvents(),
        cancelled=threading.Event(),
    )
    with ThreadPoolExecutor(1) as threads:
        outcome = await Invoker(threads).run(definition, ctx, Payload(json=None), timeout)
    assert outcome.error is not None
    return outcome.error.type, outcome.error.message


@pytest.mark.parametrize("timeout", [None, 30.0])
async def test_a_handlers_own_timeout_error_is_its_failure(timeout: float | None) -> None:
    """Proves: with or without an attempt timeout, a TimeoutError the handler raised is a
    handler failure (retried by its policy), never reported as the attempt's timeout."""
    kind, _ = await _run(_times_out_itself, timeout)
    assert kind == "TimeoutError"


async def test_an_attempt_past_its_timeout_is_an_attempt_timeout() -> None:
    """Proves: an attempt stopped at its deadline is reported as such."""
    kind, message = await _run(_hangs, 0.05)
    assert (kind, message) == (ATTEMPT_TIMEOUT, "the attempt ran past its timeout of 0.05s")
