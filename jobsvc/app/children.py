"""Child jobs and durable sleep, for in-process executors and remote worker sessions
alike: spawn a child of a running attempt's job (resolved and checked as a Submit is),
read children and recorded sleeps. Parking is a settlement (dispatch.Suspend); the
wake-up after the last child is decided by PostgreSQL (store/migrations/0014_child_jobs.sql).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from jobsvc.app.jobs import JobsApp
from jobsvc.domain.children import ChildJob, ChildState, Spawn, SpawnRefused
from jobsvc.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    JobsvcError,
    NotFound,
    ResourceExhausted,
)
from jobsvc.domain.jobs import Job, JobSpec, Payload, RetryPolicy
from jobsvc.handlers.payloads import encode_value
from jobsvc.store.port import JobStore

# Where a spawn's refusal points, as the field of the worker protocol's SpawnRequest.
SPAWN_FIELD = "spawn.job"


def stale_attempt(job_id: str) -> FailedPrecondition:
    """The attempt that asked is no longer the job's current one."""
    return FailedPrecondition(
        f"job {job_id}: this attempt is no longer current", reason="STALE_ATTEMPT", metadata={"job_id": job_id}
    )


class ChildrenApp:
    """Spawns and reads child jobs for running attempts."""

    def __init__(self, jobs: JobsApp, store: JobStore) -> None:
        self._jobs = jobs
        self._store = store

    async def spawn(self, parent_id: str, token: str, key: str, spec: JobSpec) -> ChildJob:
        """Submit `spec` as a child of the attempt's job under `key` (the child made before
        under that key, on a replay). Raises what a Submit of it would (NotFound for an
        unknown handler, InvalidArgument for bad input), FailedPrecondition for a stale
        attempt."""
        if not key:
            raise InvalidArgument(
                "a spawn needs a key",
                [FieldViolation("spawn.spawn_key", "must not be empty")],
                reason="SPAWN_KEY_MISSING",
            )
        new = await self._jobs.prepare_child(spec, SPAWN_FIELD)
        spawned = await self._store.job_spawn(parent_id, token, key, new)
        if spawned is None:
            raise stale_attempt(parent_id)
        child_id, handler, created = spawned
        if created:
            self._jobs.jobs_due(spec.run_at)
        return ChildJob(child_id, key, handler)

    async def children(self, parent_id: str, child_ids: Sequence[str]) -> list[Job]:
        """The job's children among child_ids, with their results."""
        return await self._store.job_children(parent_id, child_ids)

    async def sleeps(self, job_id: str) -> dict[str, datetime]:
        """The durable sleeps the job recorded, by key."""
        return await self._store.job_sleeps(job_id)

    def bound(self, job_id: str, token: str) -> AttemptChildren:
        """The Durable of one in-process attempt (what its JobContext spawns through)."""
        return AttemptChildren(self, job_id, token)


def spawn_spec(spawn: Spawn, input_payload: Payload) -> JobSpec:
    """The JobSpec a handler's spawn asks for."""
    return JobSpec(
        handler=spawn.handler,
        version_selector=spawn.version,
        input=input_payload,
        priority=spawn.priority,
        labels=dict(spawn.labels),
        retry_policy=spawn.retry_policy or RetryPolicy(),
        attempt_timeout=spawn.attempt_timeout,
    )


def refused(exc: JobsvcError) -> SpawnRefused:
    """A spawn the server refused, as the handler sees it (the same for remote workers)."""
    field = ""
    if isinstance(exc, InvalidArgument) and exc.violations:
        field = exc.violations[0].field
    elif isinstance(exc, NotFound):
        field = exc.metadata.get("field", "")
    code = {NotFound: "NOT_FOUND", InvalidArgument: "INVALID_ARGUMENT", ResourceExhausted: "RESOURCE_EXHAUSTED"}
    return SpawnRefused(
        exc.message, code=code.get(type(exc), "FAILED_PRECONDITION"), reason=exc.reason, field_path=field
    )


class AttemptChildren:
    """jobsvc.domain.children.Durable for one in-process attempt."""

    def __init__(self, app: ChildrenApp, job_id: str, token: str) -> None:
        self._app = app
        self._job_id = job_id
        self._token = token

    async def spawn(self, spawn: Spawn) -> ChildJob:
        """Submit the child through the app; a refusal is raised as SpawnRefused."""
        try:
            return await self._app.spawn(
                self._job_id, self._token, spawn.key, spawn_spec(spawn, encode_value(spawn.input))
            )
        except (NotFound, InvalidArgument, ResourceExhausted, FailedPrecondition) as exc:
            raise refused(exc) from None

    async def children(self, child_ids: Sequence[str]) -> list[ChildState]:
        """The job's children among child_ids."""
        return [ChildState.of(job) for job in await self._app.children(self._job_id, child_ids)]

    async def sleeps(self) -> dict[str, datetime]:
        """The job's recorded sleeps."""
        return await self._app.sleeps(self._job_id)
