"""PostgreSQL implementation of the storage port (asyncpg)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from jobsvc.domain.errors import AlreadyExists, FailedPrecondition, NotFound, Unavailable
from jobsvc.domain.jobs import (
    Claim,
    EventKind,
    HandlerSpec,
    Job,
    JobError,
    JobEvent,
    JobPage,
    JobState,
    JsonValue,
    NewJob,
    Payload,
    QueueStats,
    Transition,
)
from jobsvc.store import rows
from jobsvc.store.connection import CONNECTION_ERRORS, EventNotifier, create_pool
from jobsvc.store.sql import migrations, query

__all__ = ["CONNECTION_ERRORS", "PgStore", "create_pool"]

ONLINE_WINDOW_SECONDS = 30.0


def _same_content(existing: Job, new: NewJob) -> bool:
    spec = new.spec
    return (existing.handler, existing.version_selector, existing.input) == (
        spec.handler,
        spec.version_selector,
        spec.input,
    )


def _job_not_found(job_id: str) -> NotFound:
    return NotFound(f"job {job_id} does not exist", reason="JOB_NOT_FOUND", resource_type="job", resource_name=job_id)


class PgStore:
    """JobStore on one asyncpg pool; each method runs one named query.

    Every method that appends events tells the EventNotifier after its commit.
    """

    def __init__(self, pool: asyncpg.Pool, notifier: EventNotifier | None = None) -> None:
        self._pool = pool
        self.notifier = notifier or EventNotifier(pool)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[PoolConnectionProxy[asyncpg.Record]]:
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except CONNECTION_ERRORS as exc:
            raise Unavailable(f"database unavailable: {exc}") from exc

    async def _fetch(self, name: str, *args: Any) -> list[asyncpg.Record]:
        async with self._connection() as conn:
            result: list[asyncpg.Record] = await conn.fetch(query(name), *args)
            return result

    async def _fetch_changed(self, name: str, *args: Any) -> list[asyncpg.Record]:
        """Run a query that appends events and returns the jobs' ids in column `id` (or $1)."""
        result = await self._fetch(name, *args)
        if result:
            self.notifier.changed(str(r["id"]) if "id" in r else str(args[0]) for r in result)
        return result

    async def migrate(self) -> list[int]:
        """Apply pending migrations under an advisory lock, so replicas may start together."""
        applied_now: list[int] = []
        async with self._connection() as conn, conn.transaction():
            await conn.execute(query("migration_lock"))
            await conn.execute(query("migration_table_create"))
            done = {r["version"] for r in await conn.fetch(query("migration_list_applied"))}
            for migration in migrations():
                if migration.version not in done:
                    await conn.execute(migration.sql)
                    await conn.execute(query("migration_record"), migration.version, migration.name)
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
            [s.name for s in specs],
            [s.version for s in specs],
            [s.description for s in specs],
            [rows.json_text(s.input_schema) for s in specs],
            [rows.json_text(s.output_schema) for s in specs],
            [s.input_type for s in specs],
            [s.output_type for s in specs],
            [json.dumps(s.retry_policy.to_json()) for s in specs],
            [s.attempt_timeout for s in specs],
            [s.cache_ttl for s in specs],
            [s.retention for s in specs],
        )

    async def handler_touch(self, keys: Sequence[tuple[str, str]]) -> None:
        """Refresh last_seen_at of served versions."""
        if keys:
            await self._fetch("handler_touch_many", [k[0] for k in keys], [k[1] for k in keys])

    async def handler_list(self, name: str | None) -> list[HandlerSpec]:
        """Registered versions (ordering by version is the caller's: it knows semver)."""
        return [rows.handler_spec(r) for r in await self._fetch("handler_list", name, ONLINE_WINDOW_SECONDS)]

    # -- submitting ------------------------------------------------------------------

    async def job_insert_many(self, jobs: Sequence[NewJob]) -> list[tuple[Job, bool]]:
        """Insert a batch in one transaction; see JobStore.job_insert_many."""
        ids = [str(uuid.uuid4()) for _ in jobs]
        # One statement is atomic by itself; an explicit transaction (two more round
        # trips) is needed only to insert cache hits together with the rest.
        cached = any(j.cached_from is not None for j in jobs)
        async with self._connection() as conn, conn.transaction() if cached else contextlib.nullcontext():
            created = await self._insert_cached(conn, ids, jobs) if cached else {}
            fresh = [(i, j) for i, j in zip(ids, jobs, strict=True) if j.cached_from is None]
            payloads = [rows.payload_columns(j.spec.input) for _, j in fresh]
            inserted = await conn.fetch(
                query("job_insert_many"),
                [i for i, _ in fresh],
                [j.spec.handler for _, j in fresh],
                [j.spec.version_selector for _, j in fresh],
                [j.version for _, j in fresh],
                [j.spec.priority for _, j in fresh],
                [None if p[1] else rows.json_text(p[0]) for p in payloads],
                [p[1] for p in payloads],
                [p[2] for p in payloads],
                [j.spec.idempotency_key for _, j in fresh],
                [json.dumps(j.spec.labels) for _, j in fresh],
                [j.spec.run_at for _, j in fresh],
                [rows.job_options(j) for _, j in fresh],
            )
            created.update((str(r["id"]), rows.job(r)) for r in inserted)
            by_key: dict[str, Job] = {}
            if len(created) < len(jobs):
                # Some keys were taken: by earlier jobs, or by an earlier item of this batch.
                keys = [j.spec.idempotency_key for j in jobs if j.spec.idempotency_key]
                found = await conn.fetch(query("job_get_by_idempotency_keys"), keys)
                by_key = {r["idempotency_key"]: rows.job(r) for r in found}
            results = [
                (created[job_id], True) if job_id in created else (_existing(by_key, new), False)
                for job_id, new in zip(ids, jobs, strict=True)
            ]
        # No notification: nobody can be waiting on a job whose id was not handed out yet.
        return results

    @staticmethod
    async def _insert_cached(
        conn: PoolConnectionProxy[asyncpg.Record],
        ids: list[str],
        jobs: Sequence[NewJob],
    ) -> dict[str, Job]:
        """Insert the jobs answered from the result cache: born SUCCEEDED, never run."""
        created: dict[str, Job] = {}
        for job_id, new in zip(ids, jobs, strict=True):
            if new.cached_from is None:
                continue
            spec = new.spec
            row = await conn.fetchrow(
                query("job_insert_cached"),
                job_id,
                new.cached_from,
                spec.version_selector,
                spec.priority,
                spec.idempotency_key,
                spec.labels,
            )
            if row is None:
                raise Unavailable("the cached result vanished (retention); submit again")
            created[job_id] = rows.job(row)
        return created

    async def job_find_cached(self, new: NewJob, ttl: float) -> str | None:
        """Id of a job whose result answers `new` (same version and input within ttl)."""
        found = await self._fetch("job_find_cached", new.spec.handler, new.version, new.input_hash, ttl)
        return str(found[0]["id"]) if found else None

    # -- reading -------------------------------------------------------------------

    async def job_get(self, job_id: str) -> Job | None:
        """One job by id."""
        found = await self._fetch("job_get", job_id)
        return rows.job(found[0]) if found else None

    async def job_list(
        self,
        states: Sequence[JobState],
        handler: str | None,
        limit: int,
        cursor: tuple[datetime, str] | None,
    ) -> JobPage:
        """Fetch one row more than asked to know whether a next page exists."""
        found = await self._fetch(
            "job_list",
            [s.value for s in states] or None,
            handler,
            cursor[0] if cursor else None,
            cursor[1] if cursor else None,
            limit + 1,
        )
        jobs = [rows.job(r) for r in found[:limit]]
        more = len(found) > limit
        return JobPage(jobs, (jobs[-1].created_at, jobs[-1].id) if more and jobs else None)

    async def job_event_list(self, job_id: str, after_seq: int, limit: int) -> list[JobEvent]:
        """A job's events with seq > after_seq, in order."""
        return [rows.event(r) for r in await self._fetch("job_event_list", job_id, after_seq, limit)]

    # -- managing --------------------------------------------------------------------

    async def job_cancel(self, job_id: str, reason: str) -> Job:
        """Cancel queued at once; flag running; refuse finished."""
        async with self._connection() as conn:
            if await conn.fetch(query("job_cancel_queued"), job_id, reason):
                self.notifier.changed([job_id])
            else:
                await conn.fetch(query("job_cancel_running"), job_id, reason)
            found = await conn.fetch(query("job_get"), job_id)
        if not found:
            raise _job_not_found(job_id)
        job = rows.job(found[0])
        # Cancelling a cancelled job is a no-op success, as in AIP-151.
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
            "job_redrive_many", list(job_ids) if job_ids is not None else None, handler, version, limit
        )
        return [rows.job(r) for r in redriven]

    # -- executing -------------------------------------------------------------------

    async def job_claim(self, served: Sequence[str], owner: str, limit: int, lease_seconds: float) -> list[Claim]:
        """Lease due jobs."""
        async with self._connection() as conn, conn.transaction():
            # A generic plan cached while the queue was empty can make this query scan the
            # whole table later (measured: 3.7 s instead of 0.5 ms); claims are batched, so
            # planning each one costs little.
            await conn.execute(query("plan_custom_for_transaction"))
            claimed = await conn.fetch(query("job_claim"), list(served), limit, owner, lease_seconds)
        self.notifier.changed(str(r["id"]) for r in claimed)
        return [
            Claim(rows.job(r), str(r["attempt_token"]), r["lease_expires_at"], r["attempt_deadline"]) for r in claimed
        ]

    async def job_lease_extend(self, job_ids: Sequence[str], owner: str, lease_seconds: float) -> dict[str, bool]:
        """Heartbeat of an owner for all its jobs: {job id: cancel requested}."""
        if not job_ids:
            return {}
        extended = await self._fetch("job_lease_extend", list(job_ids), owner, lease_seconds)
        return {str(r["id"]): r["cancel_requested"] for r in extended}

    async def job_lease_extend_tokens(
        self,
        leases: Sequence[tuple[str, str]],
        lease_seconds: float,
    ) -> dict[str, tuple[bool, datetime]]:
        """Heartbeat by (job id, token): {job id: (cancel requested, lease deadline)} of the leases held."""
        if not leases:
            return {}
        extended = await self._fetch(
            "job_lease_extend_tokens", [lease[0] for lease in leases], [lease[1] for lease in leases], lease_seconds
        )
        return {str(r["id"]): (r["cancel_requested"], r["lease_expires_at"]) for r in extended}

    async def job_lease_shorten(self, owner: str, grace_seconds: float) -> None:
        """Let an owner's leases run out after grace_seconds (its session ended)."""
        await self._fetch("job_lease_shorten", owner, grace_seconds)

    async def job_event_append(
        self,
        job_id: str,
        token: str,
        kind: EventKind,
        data: dict[str, JsonValue],
        payload: Payload | None = None,
    ) -> int | None:
        """Append a non-terminal event under the attempt token."""
        appended = await self._fetch_changed(
            "job_event_append", job_id, token, kind.value, data, *rows.payload_columns(payload)
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
        """Terminal write under the attempt token; None for a stale token."""
        finished = await self._fetch_changed(
            "job_finish", job_id, token, state.value, *rows.payload_columns(result), error.to_json() if error else None
        )
        return rows.transition(finished[0], state) if finished else None

    async def job_fail_attempt(
        self,
        job_id: str,
        token: str,
        error: JobError,
        retry_delay: float | None = None,
    ) -> Transition | None:
        """The attempt failed: retried per policy (state QUEUED) or FAILED; None for a stale token."""
        failed = await self._fetch_changed(
            "job_fail_attempt", job_id, token, error.to_json(), retry_delay, error.non_retryable
        )
        return rows.transition(failed[0], JobState(failed[0]["new_state"])) if failed else None

    async def job_requeue(self, job_id: str, token: str, reason: str) -> bool:
        """Give an attempt back without counting it as failed."""
        return bool(await self._fetch_changed("job_requeue", job_id, token, reason))

    # -- maintenance -----------------------------------------------------------------

    async def job_rescue_expired(self, limit: int) -> list[Transition]:
        """End attempts whose lease ran out as failed attempts (retried or FAILED)."""
        rescued = await self._fetch_changed("job_rescue_expired", limit)
        return [rows.transition(r, JobState(r["new_state"])) for r in rescued]

    async def job_expire_deadlines(self, limit: int) -> list[Transition]:
        """Fail jobs past their execution or schedule-to-start deadline."""
        expired = await self._fetch_changed("job_expire_deadlines", limit)
        return [rows.transition(r, JobState.FAILED, attempt_ended=False) for r in expired]

    async def job_queue_stats(self) -> list[QueueStats]:
        """Queued jobs per handler (for the queue gauges, on scrape only)."""
        return [
            QueueStats(r["handler"], r["due"], r["scheduled"], r["oldest_due_age"])
            for r in await self._fetch("job_queue_stats")
        ]

    async def job_reap_finished(self, limit: int) -> int:
        """Delete finished jobs past their retention; how many."""
        return len(await self._fetch("job_reap_finished", limit))

    async def job_executors_wake(self, due: datetime | None = None) -> None:
        """NOTIFY the claim loops of every replica that jobs are due (at `due`)."""
        await self._fetch("job_executors_wake", "" if due is None else f"{due.timestamp():.3f}")


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
