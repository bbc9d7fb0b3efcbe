"""PostgreSQL implementation of the storage port (asyncpg)."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from functools import partial
from typing import NoReturn, TypeAlias

import asyncpg
from asyncpg.pool import PoolAcquireContext, PoolConnectionProxy

from jobsvc.domain.children import Park
from jobsvc.domain.errors import AlreadyExists, FailedPrecondition, JobsvcError, NotFound, Unavailable
from jobsvc.domain.jobs import (
    TERMINAL_STATES,
    Claim,
    EventKind,
    EventPage,
    FinishedBucket,
    HandlerSpec,
    HistoryMove,
    Job,
    JobError,
    JobPage,
    JobState,
    LabelDepth,
    NewJob,
    Payload,
    QueueStats,
    RollupConfig,
    Transition,
    VersionStats,
)
from jobsvc.domain.operations import BulkAction, JobFilter, Operation
from jobsvc.domain.pauses import Pause, PauseTarget
from jobsvc.domain.schedules import Schedule
from jobsvc.domain.values import JsonValue, is_uuid
from jobsvc.domain.workers import WorkerSession
from jobsvc.domain.workflows import StepRedrive, StreamHead, Workflow, WorkflowEvent, WorkflowPage, WorkflowSpec
from jobsvc.store import history, rows
from jobsvc.store.batching import Coalescer
from jobsvc.store.connection import CONNECT_TIMEOUT, CONNECTION_ERRORS, DROP_CONNECTION, create_pool, database_error
from jobsvc.store.ids import new_job_id
from jobsvc.store.notify import EventNotifier
from jobsvc.store.sql import bind, migrations

__all__ = ["CONNECTION_ERRORS", "PgStore", "create_pool"]

ONLINE_WINDOW_SECONDS = 30.0

# job_finish's arguments: job id, attempt token, terminal state, result, error.
_Finish = tuple[str, str, JobState, Payload | None, JobError | None]

# A string: asyncpg's proxy class cannot be subscripted at run time, only by the type checker.
_Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"


def _raise_as_domain_error(exc: Exception) -> NoReturn:
    """Raise the domain error a database failure means (UNAVAILABLE, ABORTED), or exc
    itself when it is not one (a bug stays a bug)."""
    translated = database_error(exc)
    if translated is None:
        raise exc
    raise translated from exc


async def _run(conn: _Connection, name: str, /, **parameters: object) -> list[asyncpg.Record]:
    """Run the named query on conn, its parameters given by name (see sql.bind)."""
    sql, args = bind(name, **parameters)
    found: list[asyncpg.Record] = await conn.fetch(sql, *args)
    return found


async def _execute(conn: _Connection, name: str, /, **parameters: object) -> None:
    """Run a named statement that returns no rows (one without parameters may hold several)."""
    sql, args = bind(name, **parameters)
    await conn.execute(sql, *args)


def _same_content(existing: Job, new: NewJob) -> bool:
    spec = new.spec
    return (existing.handler, existing.version_selector, existing.input) == (
        spec.handler,
        spec.version_selector,
        spec.input,
    )


def _insert_arguments(fresh: Sequence[tuple[str, NewJob]]) -> dict[str, object]:
    """job_insert_many's arguments for (id, job) pairs."""
    payloads = [rows.payload_columns(j.spec.input) for _, j in fresh]
    # Each distinct set of options once, and each job's by its position (1-based).
    option_sets: dict[str, int] = {}
    options = [option_sets.setdefault(rows.job_options(j), len(option_sets) + 1) for _, j in fresh]
    return {
        "ids": [i for i, _ in fresh],
        "handlers": [j.spec.handler for _, j in fresh],
        "version_selectors": [j.spec.version_selector for _, j in fresh],
        "versions": [j.version for _, j in fresh],
        "priorities": [j.spec.priority for _, j in fresh],
        "inputs": [None if p[1] else rows.json_text(p[0]) for p in payloads],
        "input_type_urls": [p[1] for p in payloads],
        "input_datas": [p[2] for p in payloads],
        "idempotency_keys": [j.spec.idempotency_key for _, j in fresh],
        "labels": [rows.labels_text(j.spec.labels) for _, j in fresh],
        "run_ats": [j.spec.run_at for _, j in fresh],
        "options": options,
        "option_sets": list(option_sets),
    }


def _job_not_found(job_id: str) -> NotFound:
    return NotFound(f"job {job_id} does not exist", reason="JOB_NOT_FOUND", resource_type="job", resource_name=job_id)


class PgStore:
    """JobStore on one asyncpg pool; each method runs one named query.

    Every method that appends events tells the EventNotifier after its commit.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        notifier: EventNotifier | None = None,
        *,
        claim_pool: asyncpg.Pool | None = None,
        jobs_due: Callable[[datetime], None] | None = None,
    ) -> None:
        self._pool = pool
        # Connections with the planner settings of claims (create_pool(for_claims=True));
        # without one, each claim sets them for its own transaction.
        self._claim_pool = claim_pool
        self.notifier = notifier or EventNotifier(pool)
        # Told when a full rate window opens again, so this process's claim loops try then
        # (the server gives the Listener's jobs_due: other replicas' claims see the same window).
        self.jobs_due = jobs_due
        self._finishes: Coalescer[_Finish, Transition | None] = Coalescer(self._finish_many, name="jobsvc-finish")
        # Concurrent single-job inserts share INSERT transactions (group commit); a caller
        # that reused an idempotency key with other content fails alone.
        self._inserts: Coalescer[NewJob, tuple[Job, bool]] = Coalescer(
            self.job_insert_many,
            retry_one_by_one=lambda exc: isinstance(exc, AlreadyExists),
            name="jobsvc-group-commit",
        )
        # How long a request waits for a free pool connection before it is UNAVAILABLE.
        self.acquire_timeout = CONNECT_TIMEOUT
        self._unreachable: JobsvcError | None = None

    async def mark_unreachable(self, problem: JobsvcError | None) -> None:
        """Health found the database unusable (problem) or usable again (None).

        While unusable, requests fail at once with UNAVAILABLE, with the problem's message
        and reason (DATABASE_READ_ONLY for a read-only server), instead of sending queries
        into a network that swallows them (a blackhole holds each one until its command
        timeout), so callers can retry on another replica.
        """
        if problem is not None and self._unreachable is None:
            # Inserts queued behind a flush that hangs in the outage were never sent: refuse
            # them now rather than when that flush times out. (Queued outcomes wait: sent
            # once the link is back, they spare the job a re-run.)
            self._inserts.refuse_waiting(self._refusal(problem))
            # Connections that lived through the outage may be dead: replace them as they come back.
            await self._pool.expire_connections()
            if self._claim_pool is not None:
                await self._claim_pool.expire_connections()
        self._unreachable = problem

    @staticmethod
    def _refusal(problem: JobsvcError) -> Unavailable:
        return Unavailable(problem.message, reason=problem.reason)

    @property
    def unreachable(self) -> bool:
        """Whether health last found the database unreachable."""
        return self._unreachable is not None

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[_Connection]:
        async with self._acquired(self._pool) as conn:
            yield conn

    @asynccontextmanager
    async def _acquired(self, pool: asyncpg.Pool) -> AsyncIterator[_Connection]:
        """A pool connection; every database failure in the block becomes the domain error
        it means (UNAVAILABLE, ABORTED), and a connection found read-only is dropped so that
        the pool reconnects (to the next host of a multi-host URL)."""
        try:
            async with self._acquire(pool) as conn:
                try:
                    yield conn
                except DROP_CONNECTION:
                    conn.terminate()
                    raise
        except Exception as exc:
            _raise_as_domain_error(exc)

    def _acquire(self, pool: asyncpg.Pool) -> PoolAcquireContext:
        """pool.acquire, refused at once while health finds the database unreachable. The
        wait is bounded (acquire_timeout) only when no connection is idle: asyncpg makes a
        task for every bounded acquisition, a cost the hot path need not pay."""
        if self._unreachable is not None:
            raise self._refusal(self._unreachable)
        return pool.acquire(timeout=None if pool.get_idle_size() else self.acquire_timeout)

    async def _fetch(self, name: str, /, **parameters: object) -> list[asyncpg.Record]:
        """Run one named query on a pool connection, its parameters given by name."""
        return await self._fetch_on(self._pool, name, parameters)

    async def _fetch_on(self, pool: asyncpg.Pool, name: str, parameters: dict[str, object]) -> list[asyncpg.Record]:
        """Run one named query on a connection of `pool`. (The hot path: one plain context
        manager, not _acquired's generator-based one.)"""
        sql, args = bind(name, **parameters)  # a wrong name fails here, before a connection is taken
        try:
            async with self._acquire(pool) as conn:
                try:
                    found: list[asyncpg.Record] = await conn.fetch(sql, *args)
                    return found
                except DROP_CONNECTION:
                    conn.terminate()  # the pool connects again: to the next host of a multi-host URL
                    raise
        except Exception as exc:
            _raise_as_domain_error(exc)

    async def _fetch_changed(self, name: str, /, **parameters: object) -> list[asyncpg.Record]:
        """Run a query that appends events: its rows name the changed jobs in column `id`,
        or it changed job :job_id. Waiters are told after the statement committed."""
        result = await self._fetch(name, **parameters)
        if result:
            self.notifier.changed(str(r["id"]) if "id" in r else str(parameters["job_id"]) for r in result)
        return result

    async def migrate(self) -> list[int]:
        """Apply pending migrations under an advisory lock, so replicas may start together.

        Every install runs the migrations, a fresh one too: one path to the schema, the one
        every upgraded database took. sql/schema.sql is the same schema in one readable file,
        checked against the migrations by tests/store/test_schema.py, and never run here.
        """
        applied_now: list[int] = []
        async with self._connection() as conn, conn.transaction():
            await _execute(conn, "migration_lock")
            await _execute(conn, "migration_table_create")
            done = {r["version"] for r in await _run(conn, "migration_list_applied")}
            for migration in migrations():
                if migration.version not in done:
                    await conn.execute(migration.sql)
                    await _execute(conn, "migration_record", version=migration.version, name=migration.name)
                    applied_now.append(migration.version)
        return applied_now

    async def ping(self) -> None:
        """Raise Unavailable unless a trivial query succeeds."""
        await self._fetch("database_ping")

    # -- handlers ------------------------------------------------------------------

    async def handler_register(self, specs: Sequence[HandlerSpec]) -> None:
        """Upsert handler versions (and mark them seen now)."""
        if not specs:
            return
        await self._fetch(
            "handler_upsert_many",
            names=[s.name for s in specs],
            versions=[s.version for s in specs],
            descriptions=[s.description for s in specs],
            input_schemas=[rows.json_text(s.input_schema) for s in specs],
            output_schemas=[rows.json_text(s.output_schema) for s in specs],
            input_types=[s.input_type for s in specs],
            output_types=[s.output_type for s in specs],
            retry_policies=[json.dumps(s.retry_policy.to_json()) for s in specs],
            attempt_timeouts=[s.attempt_timeout for s in specs],
            cache_ttls=[s.cache_ttl for s in specs],
            retentions=[s.retention for s in specs],
            flow_controls=[json.dumps(s.flow.to_json()) if s.flow else None for s in specs],
        )

    async def handler_touch(self, keys: Sequence[tuple[str, str]]) -> None:
        """Refresh last_seen_at of served versions."""
        if keys:
            await self._fetch("handler_touch_many", names=[k[0] for k in keys], versions=[k[1] for k in keys])

    async def handler_list(self, name: str | None) -> list[HandlerSpec]:
        """Registered versions (ordering by version is the caller's: it knows semver)."""
        found = await self._fetch("handler_list", name=name, online_seconds=ONLINE_WINDOW_SECONDS)
        return [rows.handler_spec(r) for r in found]

    # -- submitting ------------------------------------------------------------------

    async def job_insert_started(self, job: NewJob, owner: str, lease_seconds: float) -> tuple[Job, Claim | None]:
        """Insert one job, started at once for owner when nothing waits ahead; see JobStore."""
        job_id = new_job_id()
        spec = job.spec
        payload = rows.payload_columns(spec.input)
        [r] = await self._fetch(
            "job_insert_started",
            id=job_id,
            handler=spec.handler,
            version_selector=spec.version_selector,
            version=job.version,
            priority=spec.priority,
            input=None if payload[1] else rows.json_text(payload[0]),
            input_type_url=payload[1],
            input_data=payload[2],
            labels=rows.labels_text(spec.labels),
            options=rows.job_options(job),
            owner=owner,
            lease_seconds=lease_seconds,
        )
        # No notification: nobody can be waiting on a job whose id was not handed out yet.
        inserted = rows.new_job(job, job_id, r["created_at"], r["run_at"])
        if r["state"] != JobState.RUNNING.value:
            return inserted, None
        started = rows.started_at_insert(inserted)
        return started, Claim(started, str(r["attempt_token"]), r["lease_expires_at"], r["attempt_deadline"])

    async def job_insert_many(self, jobs: Sequence[NewJob]) -> list[tuple[Job, bool]]:
        """Insert a batch in one transaction; see JobStore.job_insert_many."""
        ids = [new_job_id() for _ in jobs]
        # One statement is atomic by itself; an explicit transaction (two more round
        # trips) is needed only to insert cache hits together with the rest.
        cached = any(j.cached_from is not None for j in jobs)
        async with self._connection() as conn, conn.transaction() if cached else contextlib.nullcontext():
            created = await self._insert_cached(conn, ids, jobs) if cached else {}
            fresh = [(i, j) for i, j in zip(ids, jobs, strict=True) if j.cached_from is None]
            keyed = any(j.spec.idempotency_key for _, j in fresh)
            statement = "job_insert_many+keyed" if keyed else "job_insert_many"
            inserted = await _run(conn, statement, **_insert_arguments(fresh))
            by_id = dict(fresh)
            for r in inserted:
                job_id = str(r["id"])
                created[job_id] = rows.new_job(by_id[job_id], job_id, r["created_at"], r["run_at"])
            by_key: dict[str, Job] = {}
            if len(created) < len(jobs):
                # Some keys were taken: by earlier jobs, or by an earlier item of this batch.
                keys = [j.spec.idempotency_key for j in jobs if j.spec.idempotency_key]
                found = await _run(conn, "job_get_by_idempotency_keys", keys=keys)
                by_key = {r["idempotency_key"]: rows.job(r) for r in found}
            results = [
                (created[job_id], True) if job_id in created else (_existing(by_key, new), False)
                for job_id, new in zip(ids, jobs, strict=True)
            ]
        # No notification: nobody can be waiting on a job whose id was not handed out yet.
        return results

    @staticmethod
    async def _insert_cached(
        conn: _Connection,
        ids: list[str],
        jobs: Sequence[NewJob],
    ) -> dict[str, Job]:
        """Insert the jobs answered from the result cache: born SUCCEEDED, never run."""
        created: dict[str, Job] = {}
        for job_id, new in zip(ids, jobs, strict=True):
            if new.cached_from is None:
                continue
            spec = new.spec
            found = await _run(
                conn,
                "job_insert_cached",
                job_id=job_id,
                cached_from=new.cached_from,
                version_selector=spec.version_selector,
                priority=spec.priority,
                idempotency_key=spec.idempotency_key,
                labels=spec.labels,
            )
            if not found:
                raise Unavailable("the cached result vanished (retention); submit again")
            created[job_id] = rows.job(found[0])
        return created

    async def job_insert(self, job: NewJob) -> tuple[Job, bool]:
        """Insert one job with whatever other single inserts are waiting (group commit).
        Refused at once while health finds the database unreachable: queued behind a flush
        that hangs, it would wait for that flush's timeout instead."""
        if self._unreachable is not None:
            raise self._refusal(self._unreachable)
        return await self._inserts.submit(job)

    async def job_find_cached(self, new: NewJob, ttl: float) -> str | None:
        """Id of a job whose result answers `new` (same version and input within ttl)."""
        found = await self._fetch(
            "job_find_cached", handler=new.spec.handler, version=new.version, input_hash=new.input_hash, ttl=ttl
        )
        return str(found[0]["id"]) if found else None

    # -- reading -------------------------------------------------------------------

    async def job_get(self, job_id: str, *, payloads: bool = True) -> Job | None:
        """One job by id, in the live table or else in the history."""
        found = await self._fetch("job_get", job_id=job_id, payloads=payloads)
        if found:
            return rows.job(found[0])
        return await self._job_get_history(self._fetch, job_id, payloads)

    @staticmethod
    async def _job_get_history(
        fetch: Callable[..., Awaitable[list[asyncpg.Record]]], job_id: str, payloads: bool
    ) -> Job | None:
        """A job moved to the history (job_get's miss). The BASIC view's payloads are left
        out here rather than by the query, which is one row and rare."""
        found = await fetch("job_get_history", job_id=job_id)
        if not found:
            return None
        job = rows.job(found[0])
        return job if payloads else rows.without_payloads(job)

    async def job_list(
        self,
        states: Sequence[JobState],
        handler: str | None,
        limit: int,
        cursor: tuple[datetime, str] | None,
        *,
        payloads: bool = True,
        labels: Mapping[str, str] | None = None,
        version: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> JobPage:
        """Fetch one row more than asked to know whether a next page exists: from the live
        table and, when finished jobs are asked for, from the history, merged."""
        filters = {
            "states": [s.value for s in states] or None,
            "handler": handler,
            "labels": json.dumps(dict(labels)) if labels else None,
            "version": version,
            "created_after": created_after,
            "created_before": created_before,
            "cursor_created_at": cursor[0] if cursor else None,
            "cursor_id": cursor[1] if cursor else None,
            "page_size": limit + 1,
        }
        found = [rows.job(r) for r in await self._fetch("job_list", payloads=payloads, **filters)]
        if not states or any(s in TERMINAL_STATES for s in states):
            if len(states) == 1 and states[0] is not JobState.SUCCEEDED:
                one_state = {k: v for k, v in filters.items() if k != "states"}
                history = await self._fetch("job_list_history_unsucceeded", state=states[0].value, **one_state)
            else:
                history = await self._fetch("job_list_history", **filters)
            moved = [rows.job(r) if payloads else rows.without_payloads(rows.job(r)) for r in history]
            newest_first = heapq.merge(found, moved, key=lambda j: (j.created_at, uuid.UUID(j.id)), reverse=True)
            found = list(itertools.islice(newest_first, limit + 1))
        jobs = found[:limit]
        more = len(found) > limit
        return JobPage(jobs, (jobs[-1].created_at, jobs[-1].id) if more and jobs else None)

    async def job_event_list(self, job_id: str, after_seq: int, limit: int) -> EventPage | None:
        """Up to `limit` of a job's events with seq > after_seq, in order, with the job's
        state and last sequence from the same snapshot; None when the job does not exist."""
        found = await self._fetch("job_event_list", job_id=job_id, after_seq=after_seq, limit=limit)
        if not found:
            found = await self._fetch("job_event_list_history", job_id=job_id, after_seq=after_seq, limit=limit)
        if not found:
            return None
        events = [rows.event(r) for r in found if r["seq"] is not None]
        return EventPage(events, JobState(found[0]["job_state"]), found[0]["job_last_seq"])

    # -- managing --------------------------------------------------------------------

    async def job_cancel(self, job_id: str, reason: str) -> Job:
        """Cancel queued at once; flag running; a cancelled job as it is; refuse succeeded or failed."""
        async with self._connection() as conn:
            if await _run(conn, "job_cancel_queued", job_id=job_id, reason=reason):
                self.notifier.changed([job_id])
            else:
                await _run(conn, "job_cancel_running", job_id=job_id, reason=reason)
            found = await _run(conn, "job_get", job_id=job_id, payloads=True)
            job = rows.job(found[0]) if found else await self._job_get_history(partial(_run, conn), job_id, True)
        if job is None:
            raise _job_not_found(job_id)
        # Cancelling a cancelled job is a no-op success, as in AIP-151, so that a retried
        # or doubled cancel is not an error; a job that ended otherwise cannot be cancelled.
        if job.state in (JobState.SUCCEEDED, JobState.FAILED):
            raise FailedPrecondition(
                f"job {job_id} already finished ({job.state.value}); it cannot be cancelled",
                reason="JOB_ALREADY_FINISHED",
                metadata={"job_id": job_id, "state": job.state.value},
            )
        return job

    async def job_redrive(
        self,
        job_ids: Sequence[str] | None,
        handler: str | None,
        version: str | None,
        limit: int,
    ) -> list[Job]:
        """Re-run dead-lettered jobs as new jobs; the new jobs."""
        redriven = await self._fetch_changed(
            "job_redrive_many",
            job_ids=list(job_ids) if job_ids is not None else None,
            handler=handler,
            version=version,
            limit=limit,
        )
        return [rows.job(r) for r in redriven]

    async def job_workflow_step(self, job_id: str) -> tuple[str, str] | None:
        """(workflow id, step name) of a job that is a workflow step; None for a plain job."""
        found = await self._fetch("job_workflow_step", job_id=job_id)
        return (found[0]["workflow_id"], found[0]["name"]) if found else None

    # -- workflows -------------------------------------------------------------------

    async def workflow_insert(self, spec: WorkflowSpec, jobs: Sequence[NewJob]) -> str:
        """Insert a workflow's steps (jobs[i] is spec.steps[i]) in one transaction; its id."""
        workflow_id = str(uuid.uuid4())
        ids = [new_job_id() for _ in jobs]
        by_name = {step.name: job_id for step, job_id in zip(spec.steps, ids, strict=True)}
        children: dict[str, list[str]] = {name: [] for name in by_name}
        for step, job_id in zip(spec.steps, ids, strict=True):
            for parent in step.depends_on:
                children[parent].append(job_id)
        async with self._connection() as conn, conn.transaction():
            await _run(conn, "job_insert_many", **_insert_arguments(list(zip(ids, jobs, strict=True))))
            await _run(
                conn,
                "workflow_insert",
                workflow_id=workflow_id,
                name=spec.name,
                labels=spec.labels,
                job_ids=ids,
                names=[step.name for step in spec.steps],
                depends_on=[json.dumps(list(step.depends_on)) for step in spec.steps],
                child_ids=[json.dumps(children[step.name]) for step in spec.steps],
                optionals=[step.optional for step in spec.steps],
                inputs=[rows.step_inputs_text(step, by_name) for step in spec.steps],
                maps=[rows.step_map_text(step, by_name) for step in spec.steps],
            )
        return workflow_id

    async def workflow_get(self, workflow_id: str, *, payloads: bool = False) -> Workflow | None:
        """A workflow with its steps (their jobs without payloads unless `payloads`)."""
        async with self._connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            # One snapshot: the workflow's state agrees with its steps'.
            header = await _run(conn, "workflow_get", workflow_id=workflow_id)
            if not header:
                return None
            steps = await _run(conn, "workflow_steps_get", workflow_id=workflow_id, payloads=payloads)
        return rows.workflow(header[0], [rows.step(r) for r in steps])

    async def workflow_list(self, limit: int, cursor: tuple[datetime, str] | None) -> WorkflowPage:
        """Up to `limit` workflows after `cursor`, newest first, without their steps."""
        found = await self._fetch(
            "workflow_list",
            limit=limit + 1,
            after_created=cursor[0] if cursor else None,
            after_id=cursor[1] if cursor else None,
        )
        workflows = [rows.workflow(r, []) for r in found[:limit]]
        more = len(found) > limit
        return WorkflowPage(workflows, (workflows[-1].created_at, workflows[-1].id) if more else None)

    async def workflow_cancel(self, workflow_id: str, reason: str) -> bool:
        """Ask a workflow's running steps to stop, then cancel its waiting and queued ones
        (two transactions: see workflow_cancel_running); False when there is no such workflow."""
        cancelled: list[asyncpg.Record] = []
        async with self._connection() as conn:
            # Twice: a mapped step that a parent expanded while the first pass waited for its
            # row lock made element jobs that the first pass's snapshot could not see.
            for _ in range(2):
                await _run(conn, "workflow_cancel_running", workflow_id=workflow_id, reason=reason)
                cancelled += await _run(conn, "workflow_cancel_pending", workflow_id=workflow_id, reason=reason)
            found = await _run(conn, "workflow_get", workflow_id=workflow_id)
        if cancelled:
            self.notifier.changed(str(r["id"]) for r in cancelled)
        return bool(found)

    async def workflow_step_redrive(self, workflow_id: str, step: str) -> StepRedrive:
        """Redrive a failed step (see workflow_step_redrive in queries.sql)."""
        [found] = await self._fetch("workflow_step_redrive", workflow_id=workflow_id, step=step)
        return StepRedrive(
            found=found["found"],
            cancelled=bool(found["cancelled"]),
            job_id=str(found["job_id"]) if found["job_id"] else None,
            state=JobState(found["state"]) if found["state"] else None,
            optional=bool(found["optional"]),
            redriven=bool(found["redriven"]),
        )

    async def workflow_events_stamp(self, workflow_id: str) -> StreamHead | None:
        """Number the workflow's new step events (see workflow_events_stamp in queries.sql)."""
        async with self._connection() as conn, conn.transaction():
            if not await _run(conn, "workflow_events_lock", workflow_id=workflow_id):
                return None
            [head] = await _run(conn, "workflow_events_stamp", workflow_id=workflow_id)
        return StreamHead(head["last_seq"], [str(job_id) for job_id in head["unfinished"]])

    async def workflow_event_list(self, workflow_id: str, after_seq: int, limit: int) -> list[WorkflowEvent]:
        """Up to `limit` numbered events of a workflow after `after_seq`, in order."""
        found = await self._fetch("workflow_event_list", workflow_id=workflow_id, after_seq=after_seq, limit=limit)
        return [WorkflowEvent(r["wseq"], r["step_name"], rows.event(r)) for r in found]

    # -- executing -------------------------------------------------------------------

    async def job_claim(
        self,
        served: Sequence[str],
        owner: str,
        limit: int,
        lease_seconds: float,
        *,
        limited: bool = True,
        now: datetime | None = None,
        paused_keys: Sequence[str] = (),
    ) -> list[Claim]:
        """Lease due jobs, in order, within their concurrency and rate limits (limited=False:
        none of the served versions has flow control, so the cheaper query does), leaving
        out jobs with a paused flow-control key (only jobs of such versions have keys)."""
        claims: list[Claim] = []
        name = "job_claim_limited" if limited else "job_claim"
        keys = {"paused_keys": list(paused_keys) or None} if limited else {}
        # Jobs passed over for their limits leave room in the batch: look again (bounded)
        # while every candidate looked at was a due job, so jobs behind them are not delayed.
        for _ in range(4):
            want = limit - len(claims)
            batch, candidates = await self._claim_once(
                name, served=list(served), owner=owner, limit=want, lease_seconds=lease_seconds, now=now, **keys
            )
            claims.extend(batch)
            if len(batch) == candidates or candidates < want:
                break  # nothing was passed over, or the queue has no more due jobs
        return claims

    async def _claim_once(self, name: str, /, **parameters: object) -> tuple[list[Claim], int]:
        # The claim planner settings (create_pool(for_claims=True)) leave the index walk as
        # the only plan: a generic plan cached while the queue was empty once scanned the
        # whole table later (3.7 s instead of 0.5 ms). One statement is atomic by itself:
        # no explicit transaction needed.
        if self._claim_pool is not None:
            found = await self._fetch_on(self._claim_pool, name, parameters)
        else:
            async with self._connection() as conn, conn.transaction():
                await _execute(conn, "plan_claims_for_transaction")
                found = await _run(conn, name, **parameters)
        claimed = [r for r in found if r["id"] is not None]
        self.notifier.changed(str(r["id"]) for r in claimed)
        retry_at = found[0]["rate_retry_at"]
        if retry_at is not None and self.jobs_due is not None:
            self.jobs_due(retry_at)
        claims = [
            Claim(rows.job(r), str(r["attempt_token"]), r["lease_expires_at"], r["attempt_deadline"]) for r in claimed
        ]
        return claims, int(found[0]["candidates"])

    async def job_lease_extend(
        self,
        leases: Sequence[tuple[str, str]],
        lease_seconds: float,
    ) -> dict[str, tuple[bool, datetime]]:
        """Extend leases by (job id, token); see JobStore.job_lease_extend."""
        if not leases:
            return {}
        extended = await self._fetch(
            "job_lease_extend",
            job_ids=[lease[0] for lease in leases],
            tokens=[lease[1] for lease in leases],
            lease_seconds=lease_seconds,
        )
        return {str(r["id"]): (r["cancel_requested"], r["lease_expires_at"]) for r in extended}

    async def job_lease_shorten(self, owner: str, grace_seconds: float) -> None:
        """Let an owner's leases run out after grace_seconds (its session ended)."""
        await self._fetch("job_lease_shorten", owner=owner, grace_seconds=grace_seconds)

    async def job_event_append(
        self,
        job_id: str,
        token: str,
        kind: EventKind,
        data: dict[str, JsonValue],
        payload: Payload | None = None,
    ) -> int | None:
        """Append a non-terminal event under the attempt token."""
        return await self.job_event_append_many(job_id, token, [(kind, data, payload)])

    async def job_event_append_many(
        self,
        job_id: str,
        token: str,
        events: Sequence[tuple[EventKind, dict[str, JsonValue], Payload | None]],
    ) -> int | None:
        """Append several non-terminal events, in order, under the attempt token."""
        payloads = [rows.payload_columns(payload) for _, _, payload in events]
        appended = await self._fetch_changed(
            "job_event_append_many",
            job_id=job_id,
            token=token,
            kinds=[kind.value for kind, _, _ in events],
            datas=[json.dumps(data) for _, data, _ in events],
            payloads=[None if p[1] else rows.json_text(p[0]) for p in payloads],
            payload_type_urls=[p[1] for p in payloads],
            payload_datas=[p[2] for p in payloads],
        )
        return int(appended[0]["last_seq"]) if appended else None

    async def job_finish(
        self,
        job_id: str,
        token: str,
        state: JobState,
        result: Payload | None = None,
        error: JobError | None = None,
    ) -> Transition | None:
        """Terminal write under the attempt token; None for a stale token. Concurrent
        finishes share one statement."""
        return await self._finishes.submit((job_id, token, state, result, error))

    async def _finish_many(self, items: Sequence[_Finish]) -> list[Transition | None]:
        payloads = [rows.payload_columns(result) for _, _, _, result, _ in items]
        ids = [job_id for job_id, *_ in items]
        async with self._connection() as conn:
            finished = await _run(
                conn,
                "job_finish_many",
                job_ids=ids,
                tokens=[token for _, token, *_ in items],
                states=[state.value for _, _, state, _, _ in items],
                results=[None if p[1] else rows.json_text(p[0]) for p in payloads],
                result_type_urls=[p[1] for p in payloads],
                result_datas=[p[2] for p in payloads],
                errors=[json.dumps(error.to_json()) if error else None for *_, error in items],
            )
        done = {str(r["id"]): r for r in finished}
        self.notifier.changed(done)
        return [rows.transition(done[job_id], state) if job_id in done else None for job_id, _, state, _, _ in items]

    async def job_fail_attempt(
        self,
        job_id: str,
        token: str,
        error: JobError,
        retry_delay: float | None = None,
    ) -> Transition | None:
        """The attempt failed: retried per policy (state QUEUED) or FAILED; None for a stale token."""
        failed = await self._fetch_changed(
            "job_fail_attempt",
            job_id=job_id,
            token=token,
            error=error.to_json(),
            retry_delay=retry_delay,
            non_retryable=error.non_retryable,
        )
        return rows.transition(failed[0], JobState(failed[0]["new_state"])) if failed else None

    async def job_requeue(self, job_id: str, token: str, reason: str) -> bool:
        """Give an attempt back without counting it as failed."""
        return bool(await self._fetch_changed("job_requeue", job_id=job_id, token=token, reason=reason))

    # -- child jobs and durable sleep ----------------------------------------------------

    async def job_park(self, job_id: str, token: str, park: Park) -> tuple[JobState, datetime | None] | None:
        """Park a running attempt; see JobStore.job_park."""
        if not (is_uuid(job_id) and is_uuid(token) and all(is_uuid(c) for c in park.children)):
            return None
        parked = await self._fetch_changed(
            "job_park",
            job_id=job_id,
            token=token,
            children=list(park.children),
            until=park.until,
            sleep_key=park.sleep_key,
        )
        if not parked or parked[0]["new_state"] is None:
            return None
        return JobState(parked[0]["new_state"]), parked[0]["wake_at"]

    async def job_spawn(self, parent_id: str, token: str, key: str, child: NewJob) -> tuple[str, str, bool] | None:
        """Insert a child linked to its parent in one transaction; see JobStore.job_spawn."""
        if not (is_uuid(parent_id) and is_uuid(token)):
            return None
        async with self._connection() as conn, conn.transaction():
            found = await _run(conn, "job_spawn_parent", parent_id=parent_id, token=token, spawn_key=key)
            if not found:
                return None
            if found[0]["child_id"] is not None:  # a replay: the child spawned before
                return str(found[0]["child_id"]), found[0]["child_handler"], False
            child_id = new_job_id()
            await _run(conn, "job_insert_many", **_insert_arguments([(child_id, child)]))
            await _run(conn, "job_spawn_link", parent_id=parent_id, child_id=child_id, spawn_key=key)
        return child_id, child.spec.handler, True

    async def job_children(self, parent_id: str, child_ids: Sequence[str]) -> list[Job]:
        """The parent's children among child_ids."""
        ids = [c for c in child_ids if is_uuid(c)]
        if not is_uuid(parent_id) or not ids:
            return []
        return [rows.job(r) for r in await self._fetch("job_children_get", parent_id=parent_id, child_ids=ids)]

    async def job_sleeps(self, job_id: str) -> dict[str, datetime]:
        """The durable sleeps a job recorded."""
        found = await self._fetch("job_sleeps_get", job_id=job_id) if is_uuid(job_id) else []
        recorded = found[0]["sleeps"] if found and found[0]["sleeps"] else {}
        return {key: datetime.fromisoformat(value) for key, value in recorded.items()}

    # -- maintenance -----------------------------------------------------------------

    async def job_rescue_expired(self, limit: int, *, now: datetime | None = None) -> list[Transition]:
        """End attempts whose lease ran out (by `now`) as failed attempts (retried or FAILED)."""
        rescued = await self._fetch_changed("job_rescue_expired", limit=limit, now=now)
        return [rows.transition(r, JobState(r["new_state"])) for r in rescued]

    async def job_expire_deadlines(self, limit: int, *, now: datetime | None = None) -> list[Transition]:
        """Fail jobs past their execution or schedule-to-start deadline (by `now`)."""
        expired = await self._fetch_changed("job_expire_deadlines", limit=limit, now=now)
        return [rows.transition(r, JobState.FAILED, attempt_ended=False) for r in expired]

    async def job_queue_stats(self) -> list[QueueStats]:
        """Queued jobs per handler (for the queue gauges, on scrape only)."""
        return [
            QueueStats(r["handler"], r["due"], r["scheduled"], r["oldest_due_age"])
            for r in await self._fetch("job_queue_stats")
        ]

    async def job_queue_depth_by_label(self, names: Sequence[str], max_values: int) -> list[LabelDepth]:
        """Due queued jobs per value of each label named (for the labelled queue gauge, on scrape only)."""
        found = await self._fetch("job_queue_depth_by_label", names=list(names), max_values=max_values)
        return [LabelDepth(r["name"], r["value"], r["due"]) for r in found]

    async def job_stats_by_version(self, window_seconds: float) -> list[VersionStats]:
        """Per handler version: queued (due, scheduled), running, and finished within the window."""
        found = await self._with_finished_watermark("job_stats_by_version", window_seconds=window_seconds)
        return [
            VersionStats(
                r["handler"],
                r["version"],
                r["queued"],
                r["scheduled"],
                r["running"],
                r["succeeded"],
                r["failed"],
                r["cancelled"],
                r["oldest_queued_age"],
                rows.wait_counts(r),
            )
            for r in found
        ]

    async def job_finished_timeline(self, window_seconds: float, bucket_seconds: float) -> list[FinishedBucket]:
        """Jobs finished within the window, per bucket (empty buckets left out), oldest first."""
        found = await self._with_finished_watermark(
            "job_finished_timeline", window_seconds=window_seconds, bucket_seconds=bucket_seconds
        )
        return [FinishedBucket(r["bucket_start"], r["succeeded"], r["failed"], r["cancelled"]) for r in found]

    async def _with_finished_watermark(self, name: str, /, **parameters: object) -> list[asyncpg.Record]:
        """Run an overview query with the roll-up's watermark as its :through, read in the
        same snapshot (REPEATABLE READ, read-only), so that the roll-up's minutes and the
        jobs since the watermark add up whatever a roll-up commits meanwhile."""
        async with self._connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            [mark] = await _run(conn, "job_finished_watermark")
            return await _run(conn, name, through=mark["through"], **parameters)

    async def job_finished_rollup(self, config: RollupConfig) -> datetime | None:
        """Roll the jobs finished since the watermark up into minutes. The open transactions
        are read first, in a snapshot older than the roll-up's, so that a job finished by a
        transaction not yet committed is left for a later run, not skipped."""
        [open_since] = await self._fetch("job_open_transactions_since", stall_seconds=config.stall_seconds)
        async with self._connection() as conn, conn.transaction():
            marked = await _run(
                conn,
                "job_finished_rollup_mark",
                open_since=open_since["since"],
                lag_seconds=config.lag_seconds,
                max_minutes=config.max_minutes,
            )
            if not marked:
                return None  # another replica is rolling up
            since: datetime = marked[0]["since"]
            until: datetime = marked[0]["until"]
            if until > since:
                await _execute(
                    conn, "job_finished_rollup_add", since=since, until=until, keep_seconds=config.keep_seconds
                )
            return until

    # -- the worker session directory ------------------------------------------------

    async def worker_session_put(self, session: WorkerSession) -> None:
        """Record a session that opened on this replica."""
        await self._fetch(
            "worker_session_put",
            session_id=session.session_id,
            worker_id=session.worker_id,
            handlers=session.keys,
            capacity=session.capacity,
            replica=session.replica,
        )

    async def worker_session_refresh(self, in_flight: Sequence[tuple[str, int]], stale_seconds: float) -> None:
        """Refresh this replica's sessions (session id, jobs held) and delete the rows of
        any replica not refreshed within stale_seconds."""
        await self._fetch(
            "worker_session_refresh",
            session_ids=[session_id for session_id, _ in in_flight],
            in_flight=[held for _, held in in_flight],
            stale_seconds=stale_seconds,
        )

    async def worker_session_delete(self, session_id: str) -> None:
        """Forget a session that ended."""
        await self._fetch("worker_session_delete", session_id=session_id)

    async def worker_session_list(self, stale_seconds: float) -> list[WorkerSession]:
        """Sessions of every replica refreshed within stale_seconds, by worker name."""
        return [
            WorkerSession(
                r["session_id"],
                r["worker_id"],
                list(r["handlers"]),
                r["capacity"],
                r["in_flight"],
                r["replica"],
                r["connected_at"],
                r["refreshed_at"],
            )
            for r in await self._fetch("worker_session_list", stale_seconds=stale_seconds)
        ]

    async def job_reap_finished(self, limit: int, *, now: datetime | None = None) -> int:
        """Delete finished jobs past their retention (by `now`); how many."""
        return len(await self._fetch("job_reap_finished", limit=limit, now=now))

    async def job_history_move(self, history_after: float, limit: int, *, now: datetime | None = None) -> HistoryMove:
        """Walk the next finished jobs in the order they finished, make the partitions the
        movers expire in, move them, and set the mark past the walked ones: one
        transaction, holding the mark's row lock (another replica at it: nothing done)."""
        async with self._connection() as conn, conn.transaction():
            await _execute(conn, "plan_history_move")
            walked = await _run(conn, "job_history_walk", history_after=history_after, limit=limit, now=now)
            if not walked:
                return HistoryMove(0, 0, False)  # another replica is moving
            steps = [r for r in walked if r["id"] is not None]
            moving = [r for r in steps if r["moves"]]
            if moving:
                days = history.expiry_days(r["expires_at"] for r in moving)
                await _run(conn, "job_history_partitions_make", days=days)
            # Past the last job walked; when fewer than `limit` were left, up to the cutoff.
            more = len(steps) == limit
            through_at, through_id = (
                (steps[-1]["finished_at"], steps[-1]["id"]) if more else (walked[0]["cutoff"], uuid.UUID(int=0))
            )
            [moved] = await _run(
                conn,
                "job_history_move",
                job_ids=[r["id"] for r in moving],
                through_at=through_at,
                through_id=through_id,
            )
            return HistoryMove(len(steps), moved["moved"], more)

    async def job_history_drop(self, *, now: datetime | None = None) -> list[date]:
        """Drop the history's partitions whose day is over."""
        async with self._connection() as conn:
            over = [
                history.Partition(r["name"], r["parent"], r["detaching"], r["day"])
                for r in await _run(conn, "job_history_partitions_over", now=now)
            ]
            return await history.drop(conn, over)

    # -- schedules -------------------------------------------------------------------

    async def schedule_create(self, schedule: Schedule, next_tick_at: datetime) -> Schedule:
        """Store a new schedule; AlreadyExists when the name is taken."""
        found = await self._fetch("schedule_insert", **rows.schedule_parameters(schedule, next_tick_at))
        if not found:
            raise AlreadyExists(
                f"a schedule named {schedule.name!r} already exists",
                metadata={"schedule": schedule.name},
                reason="SCHEDULE_EXISTS",
            )
        return rows.schedule(found[0])

    async def schedule_declare(self, schedule: Schedule, next_tick_at: datetime) -> Schedule | None:
        """Create or update a schedule declared in code; None when an API schedule has its name."""
        found = await self._fetch("schedule_declare", **rows.schedule_parameters(schedule, next_tick_at))
        return rows.schedule(found[0]) if found else None

    async def schedule_get(self, name: str) -> Schedule | None:
        """One schedule by name."""
        found = await self._fetch("schedule_get", name=name)
        return rows.schedule(found[0]) if found else None

    async def schedule_list(self) -> list[Schedule]:
        """Every schedule, by name."""
        return [rows.schedule(r) for r in await self._fetch("schedule_list")]

    async def schedule_set_paused(self, name: str, paused: bool, next_tick_at: datetime | None) -> Schedule | None:
        """Pause or resume (from next_tick_at); None when there is no such schedule."""
        found = await self._fetch("schedule_set_paused", name=name, paused=paused, next_tick_at=next_tick_at)
        return rows.schedule(found[0]) if found else None

    async def schedule_delete(self, name: str) -> bool:
        """Delete a schedule; False when there was none."""
        return bool(await self._fetch("schedule_delete", name=name))

    async def operation_count(self, action: BulkAction, job_filter: JobFilter) -> int:
        """How many existing jobs the bulk action would act on now."""
        [found] = await self._fetch("operation_count", action=action.value, filter=json.dumps(job_filter.to_json()))
        return int(found["matched"])

    async def operation_insert(
        self, action: BulkAction, job_filter: JobFilter, matched: int, max_jobs_per_second: float, created_by: str
    ) -> Operation:
        """A new running operation, its cursor before every job that exists."""
        [found] = await self._fetch(
            "operation_insert",
            id=str(uuid.uuid4()),
            action=action.value,
            filter=json.dumps(job_filter.to_json()),
            matched=matched,
            max_jobs_per_second=max_jobs_per_second,
            created_by=created_by,
        )
        return rows.operation(found)

    async def operation_get(self, operation_id: str) -> Operation | None:
        """One operation."""
        found = await self._fetch("operation_get", id=operation_id)
        return rows.operation(found[0]) if found else None

    async def operation_list(self, limit: int) -> list[Operation]:
        """The newest operations."""
        return [rows.operation(r) for r in await self._fetch("operation_list", limit=limit)]

    async def operation_cancel(self, operation_id: str) -> Operation | None:
        """Stop a running operation; None when it is not running (or does not exist)."""
        found = await self._fetch("operation_cancel", id=operation_id)
        return rows.operation(found[0]) if found else None

    async def operation_claim(self, owner: str, lease_seconds: float) -> Operation | None:
        """The oldest running operation no replica holds, now held by owner."""
        found = await self._fetch("operation_claim", owner=owner, lease_seconds=lease_seconds)
        return rows.operation(found[0]) if found else None

    async def operation_batch(self, operation: Operation, limit: int) -> list[tuple[str, datetime]]:
        """The next jobs (id, created_at) the operation acts on, after its cursor."""
        assert operation.cursor is not None  # stored operations always have one
        found = await self._fetch(
            "operation_batch",
            filter=json.dumps(operation.filter),
            action=operation.action.value,
            cursor_created_at=operation.cursor[0],
            cursor_id=operation.cursor[1],
            limit=limit,
        )
        return [(str(r["id"]), r["created_at"]) for r in found]

    async def operation_advance(
        self,
        operation: Operation,
        owner: str,
        done: int,
        cursor: tuple[datetime, str],
        *,
        finished: bool,
        lease_seconds: float,
    ) -> Operation | None:
        """Record a batch (one in flight at a cancel too); None when the operation is no longer owner's."""
        found = await self._fetch(
            "operation_advance",
            id=operation.id,
            owner=owner,
            done=done,
            cursor_created_at=cursor[0],
            cursor_id=cursor[1],
            finished=finished,
            lease_seconds=lease_seconds,
        )
        return rows.operation(found[0]) if found else None

    async def job_cancel_many(self, job_ids: Sequence[str], reason: str) -> int:
        """Cancel queued jobs at once and flag running ones; how many were either."""
        found = await self._fetch("job_cancel_many", job_ids=list(job_ids), reason=reason)
        self.notifier.changed(str(r["id"]) for r in found if r["was"] == "queued")
        return len(found)

    async def job_delete_many(self, job_ids: Sequence[str]) -> int:
        """Delete finished jobs and their events; how many."""
        return len(await self._fetch("job_delete_many", job_ids=list(job_ids)))

    async def pause_list(self) -> list[Pause]:
        """Every pause in force."""
        return [rows.pause(r) for r in await self._fetch("pause_list")]

    async def pause_set(self, target: PauseTarget, reason: str, paused_by: str) -> Pause:
        """Pause a handler, a version or a flow-control key; every replica is told at commit."""
        [found] = await self._fetch("pause_set", **target.columns(), reason=reason, paused_by=paused_by)
        return rows.pause(found)

    async def pause_clear(self, target: PauseTarget) -> Pause | None:
        """Resume; the pause that was in force, or None. Every replica is told at commit."""
        found = await self._fetch("pause_clear", **target.columns())
        return rows.pause(found[0]) if found else None

    async def schedule_due(self, now: datetime, limit: int) -> list[Schedule]:
        """Unpaused schedules whose next tick is at or before now."""
        return [rows.schedule(r) for r in await self._fetch("schedule_due", now=now, limit=limit)]

    async def schedule_next_tick(self) -> datetime | None:
        """The earliest next tick of any unpaused schedule."""
        found = await self._fetch("schedule_next_tick")
        return found[0]["next_tick_at"] if found else None

    async def schedule_advance(
        self, name: str, from_tick: datetime, next_tick_at: datetime, tick: datetime | None, job_id: str | None
    ) -> bool:
        """Move a schedule from from_tick to next_tick_at; False when another replica did."""
        return bool(
            await self._fetch(
                "schedule_advance", name=name, from_tick=from_tick, next_tick_at=next_tick_at, tick=tick, job_id=job_id
            )
        )


def _existing(by_key: dict[str, Job], new: NewJob) -> Job:
    key = new.spec.idempotency_key
    existing = by_key.get(key) if key else None
    if existing is None or not _same_content(existing, new):
        raise AlreadyExists(
            f"idempotency key {key!r} already names job {existing.id if existing else '?'} "
            "with a different handler, version or input",
            metadata={"idempotency_key": key or "", "job_id": existing.id if existing else ""},
        )
    return existing
