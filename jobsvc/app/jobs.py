"""The jobs use cases, independent of gRPC: resolve versions, validate input, submit,
wait for outcomes, follow event logs, list, cancel and redrive. Servicers (jobsvc.api)
only translate to and from it; it reaches storage and other processes through the
storage port alone (JobStore, Notifications).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

import jsonschema

from jobsvc.app.dispatch import Lane, LocalSlots
from jobsvc.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    OutOfRange,
    ResourceExhausted,
)
from jobsvc.domain.flow import FlowKeys, MissingKeyField
from jobsvc.domain.jobs import (
    DEFAULT_RETENTION_SECONDS,
    DEFAULT_RETRY_POLICY,
    EventPage,
    HandlerSpec,
    Job,
    JobEvent,
    JobSpec,
    JobState,
    JobView,
    NewJob,
    input_hash,
)
from jobsvc.domain.limits import PayloadLimits, payload_size
from jobsvc.domain.schemas import InvalidSchema, Validators, errors_of
from jobsvc.domain.values import JsonValue
from jobsvc.domain.versions import InvalidVersion, Version, VersionSelector
from jobsvc.observability.metrics import Metrics
from jobsvc.observability.tracing import Tracing
from jobsvc.store.port import JobStore, Notifications

log = logging.getLogger("jobsvc.app")

Encoded = TypeVar("Encoded")
# ListJobs with payloads reads this many rows first, then as many as the sizes seen
# suggest will fit: a page of large jobs never reads hundreds of them to return two.
FIRST_FULL_CHUNK = 10


@dataclass(frozen=True)
class AppConfig:
    """Limits and timings of the request paths."""

    # Re-read the registry at most this often unless a lookup misses.
    registry_ttl: float = 2.0
    # A waiter re-reads the store this often even without a notification.
    wait_poll_interval: float = 5.0
    max_batch: int = 10_000
    event_page: int = 500


class _Registry:
    """Handler versions from the store, cached briefly; a miss forces a re-read so a
    version registered by another replica a moment ago is found."""

    def __init__(self, store: JobStore, ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._loaded_at = float("-inf")
        self._by_name: dict[str, dict[Version, HandlerSpec]] = {}
        # (name, selector) -> the version it resolves to, until the next refresh.
        self._matches: dict[tuple[str, str], HandlerSpec | None] = {}
        self._validators = Validators()
        self._lock = asyncio.Lock()

    async def _refresh(self, force: bool) -> None:
        async with self._lock:
            if not force and time.monotonic() - self._loaded_at < self._ttl:
                return
            by_name: dict[str, dict[Version, HandlerSpec]] = {}
            for spec in await self._store.handler_list(None):
                with contextlib.suppress(InvalidVersion):
                    by_name.setdefault(spec.name, {})[Version.parse(spec.version)] = spec
            self._by_name = by_name
            self._matches = {}
            self._loaded_at = time.monotonic()

    async def resolve(self, name: str, selector: VersionSelector, field: str) -> HandlerSpec:
        await self._refresh(force=False)
        found = self._match(name, selector)
        if found is None:
            await self._refresh(force=True)
            found = self._match(name, selector)
        if found is not None:
            return found
        versions = sorted(self._by_name.get(name, {}), reverse=True)
        if not versions:
            raise NotFound(
                f"no handler named {name!r} is registered",
                reason="HANDLER_NOT_FOUND",
                resource_type="handler",
                resource_name=name,
                metadata={"handler": name, "field": f"{field}.handler"},
            )
        listed = ", ".join(str(v) for v in versions)
        raise NotFound(
            f"handler {name!r} has no version matching {str(selector) or 'latest'!r}; versions: {listed}",
            reason="HANDLER_VERSION_NOT_FOUND",
            resource_type="handler",
            resource_name=name,
            metadata={
                "handler": name,
                "version_selector": str(selector),
                "available_versions": listed,
                "field": f"{field}.version",
            },
        )

    def _match(self, name: str, selector: VersionSelector) -> HandlerSpec | None:
        key = (name, str(selector))
        if key in self._matches:
            return self._matches[key]
        versions = self._by_name.get(name, {})
        best = selector.best(versions)
        found = self._matches[key] = None if best is None else versions[best]
        return found

    def input_errors(self, spec: HandlerSpec, value: JsonValue) -> list[jsonschema.ValidationError]:
        """How `value` fails the version's input schema (none without one); InvalidSchema
        when the stored schema cannot be used."""
        if spec.input_schema is None:
            return []
        return errors_of(self._validators.get(f"{spec.name}@{spec.version}", spec.input_schema), value)

    async def all(self, name: str | None) -> list[HandlerSpec]:
        await self._refresh(force=True)
        names = [name] if name else sorted(self._by_name)
        return [
            self._by_name[n][v] for n in names if n in self._by_name for v in sorted(self._by_name[n], reverse=True)
        ]


def _job_not_found(job_id: str) -> NotFound:
    return NotFound(f"job {job_id} does not exist", reason="JOB_NOT_FOUND", resource_type="job", resource_name=job_id)


class JobsApp:
    """The operations behind Submit, Call, Stream and the job service."""

    def __init__(
        self,
        store: JobStore,
        notifications: Notifications,
        *,
        config: AppConfig | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
        limits: PayloadLimits | None = None,
        local: LocalSlots | None = None,
    ) -> None:
        self._store = store
        # Free slots of this process's lanes: a Call's job may start on one at once.
        self._local = local
        # Submits of this process waiting for their INSERT (see _submit).
        self._inserting = 0
        # Who wakes a waiting Call or Stream, and who tells claim loops that jobs are due.
        self._notifications = notifications
        self.config = config or AppConfig()
        # The size limits of payloads, derived from the server's message limit.
        self.limits = limits or PayloadLimits()
        self.metrics = metrics or Metrics()
        # None when tracing is off: then submits make no span.
        self.tracing = tracing
        self._registry = _Registry(store, self.config.registry_ttl)

    async def submit(self, specs: Sequence[tuple[JobSpec, str]], *, start_here: bool = False) -> list[tuple[Job, bool]]:
        """Resolve, validate and insert (spec, field path) pairs in one transaction.

        start_here (a Call, whose answer waits for the job's outcome): a single job may
        start at once on a free slot of this process (see _start_here)."""
        if self.tracing is None:
            return await self._submit(specs, None, start_here)
        # One span per request, not per job: a batch of 10,000 jobs shares it.
        with self.tracing.submit_span([spec.handler for spec, _ in specs]) as trace_context:
            return await self._submit(specs, trace_context or None, start_here)

    async def _submit(
        self, specs: Sequence[tuple[JobSpec, str]], trace_context: dict[str, str] | None, start_here: bool
    ) -> list[tuple[Job, bool]]:
        new_jobs = [await self._prepare(spec, path, trace_context) for spec, path in specs]
        # A job starts here at once only while no other insert is in flight: under load,
        # sharing one INSERT with the others (group commit) costs the database less than
        # a statement per Call, and the claim loop then takes the jobs in batches.
        alone = self._inserting == 0
        self._inserting += 1
        try:
            started = await self._start_here(new_jobs[0]) if start_here and alone and len(new_jobs) == 1 else None
            if started is not None:
                results = [(started, True)]
            elif len(new_jobs) == 1:
                # Concurrent single-job submits share INSERT transactions (group commit).
                results = [await self._store.job_insert(new_jobs[0])]
            else:
                results = await self._store.job_insert_many(new_jobs)
        finally:
            self._inserting -= 1
        queued = [job.run_at for job, created in results if created and job.state is JobState.QUEUED]
        if queued:
            self._notifications.jobs_due(min(queued))
        if self.metrics.enabled:
            for job, created in results:
                if created:
                    self.metrics.job_submitted(job.handler, job.version)
        return results

    async def _start_here(self, new: NewJob) -> Job | None:
        """Insert a Call's job already started on a free slot of this process, when one
        serves its version and no due job of that version waits ahead of it: no claim
        round trip, no wake-up, and one durable commit fewer (the insert's is flushed by
        the outcome's). None when the job does not qualify (an idempotency key, a later
        start, flow control, a cached result: those take the usual path) or no slot is free."""
        spec, keys = new.spec, new.flow_keys
        if (
            self._local is None
            or spec.idempotency_key
            or spec.run_at is not None
            or new.cached_from is not None
            or keys.concurrency_key
            or keys.rate_key
            or keys.fairness_key
        ):
            return None
        lane = self._local.reserve(f"{spec.handler}@{new.version}")
        if lane is None:
            return None
        # Shielded: a caller that goes away mid-insert must not leave a started job that
        # no slot runs (it would sit RUNNING until its lease ran out).
        return await asyncio.shield(asyncio.ensure_future(self._insert_started(new, lane)))

    async def _insert_started(self, new: NewJob, lane: Lane) -> Job:
        try:
            job, claim = await self._store.job_insert_started(new, lane.config.owner, lane.config.lease_seconds)
        except BaseException:
            lane.unreserve()
            raise
        if claim is None:
            lane.unreserve()  # queued behind a due job of its version: claimed in turn
        else:
            await lane.offer(claim)
        return job

    async def check(self, spec: JobSpec, path: str) -> NewJob:
        """Raise what submit would raise for this spec (unknown handler, bad input), without
        submitting; else the job as submit would insert it (its version, its flow keys)."""
        return await self._prepare(spec, path)

    async def prepare_step(self, spec: JobSpec, path: str, *, takes_inputs: bool) -> NewJob:
        """Resolve and settle a workflow step's job as submit would, but never from the
        result cache; a step that takes inputs from its parents has its literal input
        checked against the schema only when it runs (it is incomplete until then)."""
        return await self._prepare(spec, path, None, step=True, partial_input=takes_inputs)

    async def prepare_child(self, spec: JobSpec, path: str) -> NewJob:
        """Resolve and settle a child job (ctx.spawn) as submit would, but never from the
        result cache: a child is a job its parent waits for by id."""
        return await self._prepare(spec, path, None, step=True)

    def jobs_due(self, due: datetime | None) -> None:
        """Jobs were queued by other means than submit (a retry, a requeue): wake claim loops."""
        self._notifications.jobs_due(due)

    async def _prepare(
        self,
        spec: JobSpec,
        path: str,
        trace_context: dict[str, str] | None = None,
        *,
        step: bool = False,
        partial_input: bool = False,
    ) -> NewJob:
        """Resolve the version, validate the input and settle the job's policy."""
        self._check_input_size(spec, path)
        selector = VersionSelector.parse(spec.version_selector)
        handler = await self._registry.resolve(spec.handler, selector, path)
        if not partial_input:
            self._validate_input(handler, spec, path)
        cached = bool(handler.cache_ttl) and not step
        new = NewJob(
            spec,
            handler.version,
            retry_policy=spec.retry_policy.over(handler.retry_policy).over(DEFAULT_RETRY_POLICY),
            attempt_timeout=spec.attempt_timeout or handler.attempt_timeout,
            retention=handler.retention or DEFAULT_RETENTION_SECONDS,
            input_hash=input_hash(spec.input) if cached else None,
            flow_keys=self._flow_keys(handler, spec, path),
            trace_context=trace_context,
        )
        # The result cache: identical input within the TTL is answered without running.
        # A keyed submit is answered by its key instead (see idempotency keys).
        if handler.cache_ttl and not step and spec.idempotency_key is None:
            source = await self._store.job_find_cached(new, handler.cache_ttl)
            if source is not None:
                new = replace(new, cached_from=source)
        return new

    def _check_input_size(self, spec: JobSpec, path: str) -> None:
        """Refuse an input that could not come back in a response (with its result)."""
        limit = self.limits.payload
        size = payload_size(spec.input)
        if size > limit:
            raise ResourceExhausted(
                f"{path}.input is {size} bytes, over the limit of {limit} bytes (server option --max-payload-bytes)",
                reason="PAYLOAD_TOO_LARGE",
                metadata={"field": f"{path}.input", "limit": str(limit), "size": str(size)},
            )

    @staticmethod
    def _flow_keys(handler: HandlerSpec, spec: JobSpec, path: str) -> FlowKeys:
        """Render the handler's flow control keys for this job."""
        if not handler.flow:
            return FlowKeys()
        try:
            return FlowKeys.render(
                handler.flow,
                handler=handler.name,
                version=handler.version,
                input=None if spec.input.is_proto else spec.input.json,
                labels=spec.labels,
                field=path,
            )
        except MissingKeyField as exc:
            raise InvalidArgument(
                f"{handler.name}@{handler.version}: {exc}",
                [FieldViolation(exc.path, str(exc))],
                reason="FLOW_KEY_FIELD_MISSING",
            ) from None

    def _validate_input(self, handler: HandlerSpec, spec: JobSpec, path: str) -> None:
        where = f"{handler.name}@{handler.version}"
        if handler.input_type:
            if spec.input.type_name != handler.input_type:
                got = spec.input.type_name or "JSON"
                raise InvalidArgument(
                    f"{where} takes a {handler.input_type} message, got {got}",
                    [FieldViolation(f"{path}.input", f"expected {handler.input_type}")],
                    reason="INPUT_TYPE_MISMATCH",
                )
            return
        if spec.input.is_proto:
            raise InvalidArgument(
                f"{where} takes JSON input, got {spec.input.type_name}",
                [FieldViolation(f"{path}.input", "expected a JSON value")],
                reason="INPUT_TYPE_MISMATCH",
            )
        try:
            errors = self._registry.input_errors(handler, spec.input.json)
        except InvalidSchema as exc:
            # Declarations are checked since this release; a schema stored before may still be
            # broken. It is the handler's fault, not the caller's input's: named, never INTERNAL.
            raise FailedPrecondition(
                f"{where} declares an input schema that cannot be used ({exc}); "
                "its executors or workers must declare a valid one",
                reason="HANDLER_SCHEMA_INVALID",
                metadata={"handler": handler.name, "version": handler.version, "field": f"{path}.handler"},
            ) from None
        if errors:
            violations = [
                FieldViolation(".".join([f"{path}.input", *(str(p) for p in e.absolute_path)]), e.message)
                for e in errors[:20]
            ]
            raise InvalidArgument(
                f"input does not match the schema of {where}: {errors[0].message}",
                violations,
                reason="INPUT_SCHEMA_MISMATCH",
            )

    async def get(self, job_id: str, view: JobView = JobView.FULL) -> Job:
        """A job, or NotFound; in the BASIC view without its payloads (see JobStore.job_get)."""
        job = await self._store.job_get(job_id, payloads=view is JobView.FULL)
        if job is None:
            raise _job_not_found(job_id)
        return job

    def watch(self, job_id: str, changed: asyncio.Event) -> contextlib.AbstractContextManager[asyncio.Event]:
        """Set `changed` whenever job_id may have new events (here or on any replica)."""
        return self._notifications.subscribe(job_id, changed)

    async def wait_finished(self, job_id: str) -> Job:
        """Wait until the job is terminal; the caller's deadline bounds the wait."""
        with self._notifications.subscribe(job_id) as changed:
            while True:
                changed.clear()
                job = await self.get(job_id)
                if job.state.terminal:
                    return job
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), self.config.wait_poll_interval)

    async def event_batches(self, job_id: str, after_seq: int) -> AsyncIterator[list[JobEvent]]:
        """Every event after `after_seq`, in order, ending with the terminal one; nothing,
        ending at once, when the job is finished and `after_seq` is its last sequence. In
        lists as they come from the store: each holds the events one read found (never
        empty, at most `event_page`), so a caller can send them together.

        OutOfRange when `after_seq` is beyond the job's last sequence: no caller can have
        seen that event, and skipping to it would hide the events before it.
        """
        with self._notifications.subscribe(job_id) as changed:
            page = await self._event_page(job_id, after_seq)
            if after_seq > page.last_seq:
                raise OutOfRange(
                    f"after_sequence {after_seq} is beyond the last event of job {job_id} ({page.last_seq})",
                    reason="SEQUENCE_NOT_REACHED",
                    metadata={
                        "job_id": job_id,
                        "after_sequence": str(after_seq),
                        "last_sequence": str(page.last_seq),
                        "state": page.state.value,
                    },
                )
            while True:
                for index, event in enumerate(page.events):
                    if event.kind.terminal:
                        yield page.events[: index + 1]
                        return
                if page.events:
                    yield page.events
                    after_seq = page.events[-1].seq
                if len(page.events) < self.config.event_page:
                    # The page holds every event after after_seq of its snapshot, so a job
                    # finished in that snapshot has nothing more to send.
                    if page.state.terminal:
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), self.config.wait_poll_interval)
                # Cleared before the read: a change committed during it sets it again.
                changed.clear()
                page = await self._event_page(job_id, after_seq)

    async def _event_page(self, job_id: str, after_seq: int) -> EventPage:
        page = await self._store.job_event_list(job_id, after_seq, self.config.event_page)
        if page is None:
            raise _job_not_found(job_id)
        return page

    async def list_jobs(
        self,
        states: Sequence[JobState],
        handler: str | None,
        page_size: int,
        cursor: tuple[datetime, str] | None,
        view: JobView,
        *,
        encode: Callable[[Job], Encoded],
        size: Callable[[Encoded], int],
        budget: int,
        labels: Mapping[str, str] | None = None,
        version: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> tuple[list[Encoded], tuple[datetime, str] | None]:
        """One page, newest first: at most page_size jobs, encoded, whose sizes add up to at
        most `budget`, and the cursor of the next page (None on the last). ResourceExhausted
        when the first job alone is over the budget (a job stored before the size limits)."""
        full = view is JobView.FULL
        page: list[Encoded] = []
        used = 0
        # The keyset cursor is the last job on the page: the next page starts after it.
        last: tuple[datetime, str] | None = None
        chunk = min(page_size, FIRST_FULL_CHUNK) if full else page_size
        while True:
            found = await self._store.job_list(
                states,
                handler,
                chunk,
                cursor,
                payloads=full,
                labels=labels,
                version=version,
                created_after=created_after,
                created_before=created_before,
            )
            for job in found.jobs:
                encoded = encode(job)
                cost = size(encoded)
                if used + cost > budget:
                    if not page:
                        raise _too_large_for_a_page(job, cost, self.limits.max_message_bytes, view)
                    return page, last
                page.append(encoded)
                used += cost
                last = (job.created_at, job.id)
                if len(page) == page_size:
                    more = found.next_cursor is not None or job is not found.jobs[-1]
                    return page, last if more else None
            if found.next_cursor is None:
                return page, None
            cursor = found.next_cursor
            # As many as the sizes seen so far say will fit (and at least one).
            average = max(1, used // max(1, len(page)))
            chunk = max(1, min(page_size - len(page), (budget - used) // average + 1))

    async def cancel(self, job_id: str, reason: str) -> Job:
        """Cancel a queued job or ask a running one to stop; NotFound / FailedPrecondition otherwise."""
        return await self._store.job_cancel(job_id, reason)

    async def redrive(self, job_id: str) -> Job:
        """Run a dead-lettered (failed) job again as a new job; NotFound, or
        FailedPrecondition when the job is not dead-lettered or was redriven already."""
        redriven = await self._store.job_redrive([job_id], None, None, 1)
        if not redriven:
            job = await self.get(job_id)  # NOT_FOUND when it does not exist
            step = await self._store.job_workflow_step(job_id)
            if step is not None:
                raise _a_workflow_step(job, *step)
            already = " and was already redriven" if job.state.value == "failed" else ""
            raise FailedPrecondition(
                f"job {job_id} is {job.state.value}{already}; only a dead-lettered (failed) job can be redriven",
                reason="JOB_NOT_DEAD_LETTERED",
                metadata={"job_id": job_id, "state": job.state.value},
            )
        self._notifications.jobs_due(redriven[0].run_at)
        return redriven[0]

    async def redrive_many(self, handler: str, version: str | None, limit: int) -> list[Job]:
        """Run up to `limit` dead-lettered jobs of a handler (of one version) again as new jobs."""
        redriven = await self._store.job_redrive(None, handler, version, limit)
        if redriven:
            self._notifications.jobs_due(None)
        return redriven

    async def handlers(self, name: str | None) -> list[HandlerSpec]:
        """Registered versions, by name then newest first."""
        return await self._registry.all(name)


def _a_workflow_step(job: Job, workflow_id: str, step: str) -> FailedPrecondition:
    """RedriveJob refuses a workflow step: its copy would run outside the workflow, so
    the dependants its failure cancelled would stay cancelled. RedriveWorkflowStep runs
    the same job again and the workflow continues."""
    return FailedPrecondition(
        f"job {job.id} is step {step!r} of workflow {workflow_id}: redrive it with "
        f"RedriveWorkflowStep(id={workflow_id!r}, step={step!r}) (jobsvc workflow redrive {workflow_id} {step}), "
        "which continues the workflow",
        reason="JOB_IS_WORKFLOW_STEP",
        metadata={"job_id": job.id, "state": job.state.value, "workflow_id": workflow_id, "step": step},
    )


def _too_large_for_a_page(job: Job, size: int, limit: int, view: JobView) -> ResourceExhausted:
    """A job too large for any page: stored before the size limits (they keep new jobs
    smaller), or with more of everything than the defaults allow for."""
    hint = "; list with view JOB_VIEW_BASIC (no input or result)" if view is JobView.FULL else ""
    return ResourceExhausted(
        f"job {job.id} is {size} bytes in the {view.name} view: a ListJobs response holding it would be over "
        f"the limit of {limit} bytes (server option --max-message-bytes){hint}",
        reason="RESPONSE_TOO_LARGE",
        metadata={"job_id": job.id, "size": str(size), "limit": str(limit), "view": view.name},
    )
