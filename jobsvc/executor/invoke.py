"""Running one attempt of a handler: the same code for in-process executors and for
remote Python workers, so a handler module moves between them unchanged."""

from __future__ import annotations

import asyncio
import inspect
import traceback
from concurrent.futures import Executor as ThreadPool
from dataclasses import dataclass
from typing import Any

import jsonschema

from jobsvc.domain.errors import NonRetryableError
from jobsvc.domain.handlers import HandlerDefinition, JobContext
from jobsvc.domain.jobs import JobError, Payload, storable_text
from jobsvc.domain.schemas import Validators
from jobsvc.executor.payloads import PayloadError, decode_input, encode_value

ATTEMPT_TIMEOUT = "jobsvc.AttemptTimeout"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended: a result, or an error."""

    result: Payload | None = None
    error: JobError | None = None


class Invoker:
    """Calls handlers: async ones on the loop, blocking ones in a thread pool."""

    def __init__(self, threads: ThreadPool) -> None:
        self._threads = threads
        self._validators = Validators()

    async def run(
        self,
        definition: HandlerDefinition,
        ctx: JobContext,
        payload: Payload,
        timeout: float | None,
    ) -> Outcome:
        """One attempt. Cancellation (CancelledError) propagates to the caller."""
        try:
            async with asyncio.timeout(timeout):
                value = await self._invoke(definition, ctx, decode_input(definition, payload))
            result = encode_value(value)
            self._check_output(definition, result)
            return Outcome(result=result)
        except TimeoutError:
            return Outcome(
                error=JobError(
                    ATTEMPT_TIMEOUT, f"the attempt ran past its timeout of {timeout:.3g}s", attempt=ctx.attempt
                )
            )
        except (Exception, SystemExit) as exc:  # a handler's failure is the job's result
            return Outcome(
                error=JobError(
                    type=storable_text(_error_type(exc)),
                    message=storable_text(str(exc)),
                    traceback=storable_text(traceback.format_exc()),
                    attempt=ctx.attempt,
                    non_retryable=isinstance(exc, NonRetryableError | PayloadError),
                )
            )

    async def _invoke(self, definition: HandlerDefinition, ctx: JobContext, value: Any) -> Any:
        func = definition.func
        if inspect.isasyncgenfunction(func):
            chunks = []
            async for chunk in func(ctx, value):
                ctx.partial_output(chunk)
                chunks.append(chunk)
            return chunks
        if inspect.iscoroutinefunction(func):
            return await func(ctx, value)
        return await asyncio.get_running_loop().run_in_executor(self._threads, _call_blocking, func, ctx, value)

    def _check_output(self, definition: HandlerDefinition, result: Payload) -> None:
        if definition.output_schema is None or result.is_proto:
            return
        validator = self._validators.get(definition.key, definition.output_schema)
        problem = jsonschema.exceptions.best_match(validator.iter_errors(result.json))
        if problem is not None:
            raise PayloadError(f"result does not match the output schema: {problem.message}")


def _call_blocking(func: Any, ctx: JobContext, value: Any) -> Any:
    """Run a blocking handler in a worker thread; generators stream their chunks."""
    outcome = func(ctx, value)
    if inspect.isgenerator(outcome):
        chunks = []
        for chunk in outcome:
            ctx.partial_output(chunk)
            chunks.append(chunk)
        return chunks
    return outcome


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
