"""Running one attempt of a handler: the same code for in-process executors and for
remote Python workers, so a handler module moves between them unchanged."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import traceback
from collections.abc import Mapping
from concurrent.futures import Executor as ThreadPool
from dataclasses import dataclass
from typing import Any

import jsonschema

from jobsvc.domain.children import Park, Parked
from jobsvc.domain.errors import NonRetryableError, RetryLater
from jobsvc.domain.handlers import HandlerDefinition, JobContext
from jobsvc.domain.jobs import JobError, Payload, storable_text
from jobsvc.domain.limits import RESULT_TOO_LARGE, PayloadLimits
from jobsvc.domain.schemas import InvalidSchema, Validators, errors_of
from jobsvc.handlers.payloads import PayloadError, PayloadTooLarge, checked_size, decode_input, encode_value
from jobsvc.observability.tracing import Tracing

ATTEMPT_TIMEOUT = "jobsvc.AttemptTimeout"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended: a result, an error, or parked (ctx.wait, ctx.sleep)."""

    result: Payload | None = None
    error: JobError | None = None
    # A handler's RetryLater: retry after this many seconds instead of the policy's backoff.
    retry_delay: float | None = None
    park: Park | None = None


class Invoker:
    """Calls handlers: async ones on the loop, blocking ones in a thread pool."""

    def __init__(
        self, threads: ThreadPool, tracing: Tracing | None = None, limits: PayloadLimits | None = None
    ) -> None:
        self._threads = threads
        self._validators = Validators()
        self._tracing = tracing
        # The server's payload limits; None when they are not known (a worker whose server
        # predates them): the server then checks what it is sent.
        self.limits = limits

    async def run(
        self,
        definition: HandlerDefinition,
        ctx: JobContext,
        payload: Payload,
        timeout: float | None,
        trace_context: Mapping[str, str] | None = None,
    ) -> Outcome:
        """One attempt, inside an execution span (child of `trace_context`, the submit's)
        when tracing is on. Cancellation (CancelledError) propagates to the caller."""
        if self._tracing is None:
            return await self._attempt(definition, ctx, payload, timeout)
        with self._tracing.execution_span(ctx.job_id, ctx.handler, ctx.version, ctx.attempt, trace_context) as span:
            outcome = await self._attempt(definition, ctx, payload, timeout)
            if outcome.error is not None:
                Tracing.set_error(span, outcome.error.type)
            return outcome

    async def _attempt(
        self,
        definition: HandlerDefinition,
        ctx: JobContext,
        payload: Payload,
        timeout: float | None,
    ) -> Outcome:
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                value = await self._invoke(definition, ctx, decode_input(definition, payload))
            result = encode_value(value)
            self._check_output(definition, result)
            return Outcome(result=checked_size(result, self.payload_limit, "result"))
        except Parked as parked:  # the handler waits for children or sleeps: it runs again later
            return Outcome(park=parked.park)
        except PayloadTooLarge as exc:  # a result (or an uncaught partial output) too large to read back
            # A partial output's traceback shows where the handler sent it; a result's, only this module.
            where = traceback.format_exc() if exc.error_type != RESULT_TOO_LARGE else ""
            return Outcome(error=exc.job_error(ctx.attempt, storable_text(where)))
        except TimeoutError as exc:
            if not deadline.expired():  # the handler's own TimeoutError (a call of its timed out): its failure
                return self._failure(ctx, exc)
            return Outcome(
                error=JobError(
                    ATTEMPT_TIMEOUT, f"the attempt ran past its timeout of {timeout:.3g}s", attempt=ctx.attempt
                )
            )
        except (Exception, SystemExit) as exc:  # a handler's failure is the job's result
            return self._failure(ctx, exc)

    def _failure(self, ctx: JobContext, exc: BaseException) -> Outcome:
        """The outcome of a handler that raised exc (while it was being handled)."""
        error = JobError(
            type=storable_text(_error_type(exc)),
            message=storable_text(str(exc)),
            traceback=storable_text(traceback.format_exc()),
            attempt=ctx.attempt,
            non_retryable=isinstance(exc, NonRetryableError | PayloadError),
        )
        bounded = self.limits.bounded_error(error) if self.limits is not None else error
        return Outcome(error=bounded, retry_delay=exc.delay if isinstance(exc, RetryLater) else None)

    @property
    def payload_limit(self) -> int | None:
        """The largest result or partial output, when known."""
        return self.limits.payload if self.limits is not None else None

    async def _invoke(self, definition: HandlerDefinition, ctx: JobContext, value: Any) -> Any:
        func = definition.func
        if definition.is_async_generator:
            chunks = []
            async for chunk in func(ctx, value):
                ctx.partial_output(chunk)
                chunks.append(chunk)
            return chunks
        if definition.is_async:
            return await func(ctx, value)
        # With a copy of the context, as asyncio.to_thread does: the handler's log lines carry
        # the job's fields and its spans nest in the execution span.
        call = functools.partial(contextvars.copy_context().run, _call_blocking, func, ctx, value)
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    def _check_output(self, definition: HandlerDefinition, result: Payload) -> None:
        if definition.output_schema is None or result.is_proto:
            return
        try:
            errors = errors_of(self._validators.get(definition.key, definition.output_schema), result.json)
        except InvalidSchema as exc:  # broken in a way the declaration's checks did not foresee
            raise PayloadError(f"the output schema of {definition.key} cannot be used: {exc}") from None
        problem = jsonschema.exceptions.best_match(errors)
        if problem is not None:
            raise PayloadError(f"result does not match the output schema: {problem.message}")


def with_output_failure(outcome: Outcome | None, failure: JobError | None) -> Outcome | None:
    """The outcome of an attempt whose partial output was too large (`failure`): that error,
    whatever the handler did after it (caught the exception, returned, raised another)."""
    if outcome is None or failure is None or (outcome.error is not None and outcome.error.type == failure.type):
        return outcome
    return Outcome(error=failure)


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
