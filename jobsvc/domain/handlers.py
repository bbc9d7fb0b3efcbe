"""How a user writes a handler: the @handler decorator, the JobContext it receives,
and the loader that finds handlers in a module.

    from jobsvc import handler, JobContext

    @handler("resize_image", "2.0.0", input_schema={"type": "object", "required": ["url"]})
    async def resize(ctx: JobContext, request: dict) -> dict:
        ctx.progress(50, "downloaded")
        return {"url": request["url"], "width": 128}

A handler may be `async def` (runs on the event loop), a plain `def` (runs in a
thread pool, so blocking calls are fine), or a generator of either kind: each
yielded value is streamed to watchers as partial output, and the result is the
list of everything yielded.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from jobsvc.domain.children import ChildJob, ChildJobFailed, Durable, Park, Parked, Spawn
from jobsvc.domain.flow import FlowControl
from jobsvc.domain.jobs import HandlerSpec, JobState, RetryPolicy, duration_problems, storable_text
from jobsvc.domain.limits import progress_message
from jobsvc.domain.schedules import Schedule, ScheduleDeclaration
from jobsvc.domain.schemas import InvalidSchema, check_schema
from jobsvc.domain.values import JsonValue
from jobsvc.domain.versions import Version

HANDLER_ATTRIBUTE = "__jobsvc_handler__"
LIFESPAN_ATTRIBUTE = "lifespan"


class EventSink(Protocol):
    """Where a JobContext sends what the handler reports; implemented by executors."""

    def progress(self, percent: float, message: str) -> None:
        """Record progress (thread-safe, non-blocking)."""

    def partial_output(self, output: Any) -> None:
        """Record one chunk of partial output (thread-safe, non-blocking)."""


class CancelFlag:
    """Set once when an attempt should stop; read from any thread (a blocking handler in a
    worker thread polls `ctx.cancelled`). Nobody waits on it, so a plain attribute does:
    its store and load are atomic. (A threading.Event per job built a Condition and a
    Lock, about 2% of the executor's CPU per job.)"""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        """Ask the attempt to stop."""
        self._set = True

    def is_set(self) -> bool:
        """Whether it was asked to stop."""
        return self._set


class JobContext:
    """What a running handler can see and do besides its input."""

    def __init__(
        self,
        *,
        job_id: str,
        handler: str,
        version: str,
        attempt: int,
        labels: Mapping[str, str],
        resources: Mapping[str, Any],
        sink: EventSink,
        cancelled: CancelFlag | threading.Event,
        durable: Durable | None = None,
    ) -> None:
        self.job_id = job_id
        self.handler = handler
        self.version = version
        self.attempt = attempt
        self.labels = labels
        self.resources = resources
        self._sink = sink
        self._cancelled = cancelled
        self._durable = durable
        # Ordinals of this run's spawns without a key and of its sleeps: their replay keys.
        self._spawns = 0
        self._sleeps = 0
        self._recorded_sleeps: dict[str, datetime] | None = None

    @property
    def cancelled(self) -> bool:
        """True once a cancel was asked for; blocking handlers should poll it and return."""
        return self._cancelled.is_set()

    def progress(self, percent: float, message: str = "") -> None:
        """Report progress (0..100). Callable from async and blocking handlers alike."""
        percent = float(percent)
        shown = progress_message(storable_text(message))  # a status line: a long one is cut
        self._sink.progress(max(0.0, min(100.0, percent)) if math.isfinite(percent) else 0.0, shown)

    def partial_output(self, output: Any) -> None:
        """Stream one chunk of output to watchers before the handler returns. A chunk over the
        server's payload limit raises (jobsvc.PartialOutputTooLarge), and the attempt fails."""
        self._sink.partial_output(output)

    # -- child jobs and durable sleep (see jobsvc.domain.children) ----------------------

    async def spawn(
        self,
        handler: str,
        input: Any = None,
        *,
        version: str = "",
        key: str | None = None,
        priority: int = 0,
        labels: Mapping[str, str] | None = None,
        retry_policy: RetryPolicy | None = None,
        attempt_timeout: float | None = None,
    ) -> ChildJob:
        """Submit a child job of this job (durably, before this returns). `key` names it
        among this job's children; by default the spawn's ordinal in this run ("0", "1",
        ...), so a replay spawning in the same order gets the same children back."""
        if key is None:
            key = str(self._spawns)
            self._spawns += 1
        spawn = Spawn(key, handler, input, version, priority, dict(labels or {}), retry_policy, attempt_timeout)
        return await self._need_durable().spawn(spawn)

    async def wait(self, children: Sequence[ChildJob]) -> list[Any]:
        """The results of `children`, in order, once all have finished. While any has not,
        the job parks (state WAITING, no slot or lease held) and this handler is run
        again from the start when the last one finishes. Raises ChildJobFailed for a
        child that FAILED or was CANCELLED. A protobuf result comes back as a Payload."""
        if not children:
            return []
        found = {job.id: job for job in await self._need_durable().children([c.id for c in children])}
        unfinished = tuple(c.id for c in children if c.id in found and not found[c.id].state.terminal)
        if unfinished:
            raise Parked(Park(children=unfinished))
        results: list[Any] = []
        for child in children:
            job = found.get(child.id)
            if job is None:
                raise ValueError(f"job {child.id} is not a child of job {self.job_id}")
            if job.state is not JobState.SUCCEEDED:
                raise ChildJobFailed(child, job.state, job.error)
            result = job.result
            results.append(None if result is None else (result if result.is_proto else result.json))
        return results

    async def sleep(self, seconds: float) -> None:
        """Sleep durably: the job parks (no slot or lease held) and runs again from the
        start when the sleep is over, on any replica or worker, across restarts. The end
        is recorded when the sleep starts, so the replay returns at once from a sleep
        that is over and parks again until the same moment for one that is not."""
        key = f"sleep:{self._sleeps}"
        self._sleeps += 1
        if self._recorded_sleeps is None:
            self._recorded_sleeps = await self._need_durable().sleeps()
        now = datetime.now(UTC)
        ends = self._recorded_sleeps.get(key)
        if ends is not None and ends <= now:
            return
        until = ends if ends is not None else now + timedelta(seconds=max(0.0, float(seconds)))
        raise Parked(Park(until=until, sleep_key=key))

    def _need_durable(self) -> Durable:
        if self._durable is None:
            raise RuntimeError("child jobs and durable sleep need an async handler run by a jobsvc executor or worker")
        return self._durable


@dataclass(frozen=True)
class HandlerDefinition:
    """A handler function registered under a name and an exact version."""

    name: str
    version: Version
    func: Callable[..., Any]
    description: str = ""
    input_schema: dict[str, JsonValue] | None = None
    output_schema: dict[str, JsonValue] | None = None
    # Protobuf message classes for typed payloads; None for JSON.
    input_type: type[Any] | None = None
    output_type: type[Any] | None = None
    module: str = field(default="")
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    attempt_timeout: float | None = None
    cache_ttl: float | None = None
    retention: float | None = None
    flow: FlowControl = field(default_factory=FlowControl)
    schedules: tuple[ScheduleDeclaration, ...] = ()

    def __post_init__(self) -> None:
        # What a remote worker's declaration is refused for fails the module's import (and so
        # the server's start) here: not every Submit to the handler, or every claim, later.
        for name, schema in (("input_schema", self.input_schema), ("output_schema", self.output_schema)):
            if schema is not None:
                try:
                    check_schema(schema)
                except InvalidSchema as exc:
                    raise ValueError(f"handler {self.key}: {name} is not a usable JSON Schema: {exc}") from None
        problems = [(f"retry_policy.{f}", d) for f, d in self.retry_policy.problems()]
        problems += duration_problems(
            attempt_timeout=self.attempt_timeout, cache_ttl=self.cache_ttl, retention=self.retention
        )
        if problems:
            raise ValueError(f"handler {self.key}: {problems[0][0]} {problems[0][1]}")

    @property
    def key(self) -> str:
        """'name@version': how executors advertise what they serve."""
        return f"{self.name}@{self.version}"

    @functools.cached_property
    def is_async(self) -> bool:
        """Runs on the event loop (async def or async generator)."""
        return inspect.iscoroutinefunction(self.func) or self.is_async_generator

    @functools.cached_property
    def is_async_generator(self) -> bool:
        """An async generator: each chunk it yields is partial output."""
        return inspect.isasyncgenfunction(self.func)

    def declared_schedules(self) -> list[Schedule]:
        """The schedules declared beside this handler, for this exact version."""
        return [d.schedule(self.name, str(self.version)) for d in self.schedules]

    def spec(self) -> HandlerSpec:
        """What the store's registry keeps of this handler."""
        return HandlerSpec(
            name=self.name,
            version=str(self.version),
            description=self.description,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            input_type=_type_name(self.input_type),
            output_type=_type_name(self.output_type),
            retry_policy=self.retry_policy,
            attempt_timeout=self.attempt_timeout,
            cache_ttl=self.cache_ttl,
            retention=self.retention,
            flow=self.flow,
        )


def _type_name(message_type: type[Any] | None) -> str:
    return "" if message_type is None else str(message_type.DESCRIPTOR.full_name)


NAME_PATTERN = r"^[a-z][a-z0-9_.\-]{0,127}$"


def handler(
    name: str,
    version: str,
    *,
    description: str | None = None,
    input_schema: dict[str, JsonValue] | None = None,
    output_schema: dict[str, JsonValue] | None = None,
    input_type: type[Any] | None = None,
    output_type: type[Any] | None = None,
    retry_policy: RetryPolicy | None = None,
    attempt_timeout: float | None = None,
    cache_ttl: float | None = None,
    retention: float | None = None,
    flow: FlowControl | None = None,
    schedules: Sequence[ScheduleDeclaration] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as handler `name` at exact semantic `version`.

    retry_policy overrides the default (3 attempts, 1 s then 2 s apart) field by field;
    attempt_timeout (seconds) stops a hung attempt; cache_ttl answers identical input
    from an earlier result for that long without running; retention keeps finished
    jobs that long (default 7 days); flow sets concurrency and rate limits and fair
    turns between keys (jobsvc.domain.flow); schedules submit jobs of this version on
    a cron expression or an interval (jobsvc.schedule).
    """
    if not re.match(NAME_PATTERN, name):
        raise ValueError(f"handler name {name!r} must match {NAME_PATTERN}")
    parsed = Version.parse(version)
    if flow is not None and (problems := flow.problems()):
        raise ValueError(f"handler {name} {version}: flow.{problems[0][0]} {problems[0][1]}")
    for declaration in schedules:
        if problems := declaration.schedule(name, version).problems():
            raise ValueError(
                f"handler {name} {version}: schedule {declaration.name!r}: {problems[0][0]} {problems[0][1]}"
            )

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        definition = HandlerDefinition(
            name=name,
            version=parsed,
            func=func,
            description=description if description is not None else inspect.getdoc(func) or "",
            input_schema=input_schema,
            output_schema=output_schema,
            input_type=input_type,
            output_type=output_type,
            module=func.__module__,
            retry_policy=retry_policy or RetryPolicy(),
            attempt_timeout=attempt_timeout,
            cache_ttl=cache_ttl,
            retention=retention,
            flow=flow or FlowControl(),
            schedules=tuple(schedules),
        )
        setattr(func, HANDLER_ATTRIBUTE, definition)
        return func

    return register


Lifespan = Callable[[], AbstractAsyncContextManager[Mapping[str, Any]]]


@dataclass(frozen=True)
class HandlerModule:
    """What a handler module provides: its handlers and an optional resource lifespan."""

    name: str
    handlers: list[HandlerDefinition]
    lifespan: Lifespan | None


def load_module(module_name: str) -> HandlerModule:
    """Import a module and collect its @handler functions and its `lifespan`, if any.

    `lifespan` is an async context manager factory yielding a mapping of shared
    resources (a database pool, an HTTP client) that every JobContext receives.
    """
    module = importlib.import_module(module_name)
    found = [
        getattr(value, HANDLER_ATTRIBUTE)
        for value in vars(module).values()
        if callable(value) and hasattr(value, HANDLER_ATTRIBUTE)
    ]
    if not found:
        raise ValueError(f"module {module_name!r} defines no @handler functions")
    lifespan = getattr(module, LIFESPAN_ATTRIBUTE, None)
    return HandlerModule(module_name, found, lifespan if callable(lifespan) else None)


class HandlerTable:
    """The handler versions one process serves, by 'name@version'."""

    def __init__(self, definitions: list[HandlerDefinition]) -> None:
        self._by_key: dict[str, HandlerDefinition] = {}
        for definition in definitions:
            if definition.key in self._by_key:
                raise ValueError(f"handler {definition.key} is defined twice")
            self._by_key[definition.key] = definition

    def get(self, name: str, version: str) -> HandlerDefinition | None:
        """The definition serving exactly this version."""
        return self._by_key.get(f"{name}@{version}")

    @property
    def keys(self) -> list[str]:
        """Every 'name@version' served."""
        return list(self._by_key)

    def __iter__(self) -> Any:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)
