"""Pause and resume a handler, one version of it, or a flow-control key (a tenant's, say):
the queued jobs it names stay queued, running ones finish, and resuming starts them at once.

Each replica keeps the pauses in force in memory (`Pauses.current`), re-read when any
replica pauses or resumes (a NOTIFY on jobsvc_pauses, sent at the commit of the change),
when the notification connection comes back, and every REFRESH_INTERVAL seconds whatever
happens (a safety net for a notification lost with its connection: slow, because each
refresh is a statement every replica makes even when nothing is paused, and an idle
replica should cost the database next to nothing). Claim loops (dispatch.Lane) leave
paused versions out of the versions they claim for, and a Call's job does not start at
once on a paused version (LocalSlots); paused keys go to the claim as a parameter that is
NULL while none is paused, so nothing paused costs the claim nothing. Remote workers take
their jobs through lanes of the server they are connected to, so they obey too.

`pause` returns once every replica has had the time to apply the pause (`propagation`,
by default PROPAGATION: time for the notification to arrive and for a claim in flight to
commit): after it returns no job it pauses starts, on any replica or worker whose
notification connection is up (one whose connection is down re-reads the pauses when it
comes back, and every REFRESH_INTERVAL seconds meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from jobsvc.domain.errors import FieldViolation, InvalidArgument, NotFound
from jobsvc.domain.flow import MAX_KEY_BYTES
from jobsvc.domain.pauses import EVERY_VERSION, Pause, PausedSet, PauseTarget
from jobsvc.domain.versions import InvalidVersion, Version
from jobsvc.store.port import JobStore, Notifications
from jobsvc.supervisor import Supervisor

log = logging.getLogger("jobsvc.pauses")


class Pauses:
    """The pause and resume use cases, and this replica's view of the pauses in force."""

    TASK = "pauses"
    # Every replica re-reads the pauses at least this often (seconds), NOTIFY or not.
    REFRESH_INTERVAL = 30.0
    # What pause waits after its commit before it returns by default (see the module
    # docstring): the notification's way to every replica, and a claim in flight.
    PROPAGATION = 1.5

    def __init__(
        self, store: JobStore, wake_claim_loops: Callable[[], None], *, propagation: float = PROPAGATION
    ) -> None:
        self._store = store
        # 0 answers at once: then the replicas obey within about a second of the answer.
        self._propagation = propagation
        self._wake = wake_claim_loops
        self.current = PausedSet()
        self._changed = asyncio.Event()

    async def start(self, notifications: Notifications, supervisor: Supervisor) -> None:
        """Read the pauses, then keep them fresh (a task of the supervisor)."""
        await self.refresh()
        notifications.on_pauses_changed(self._changed.set)
        supervisor.start(self.TASK, self._round)

    async def _round(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), self.REFRESH_INTERVAL)
        self._changed.clear()
        await self.refresh()

    async def refresh(self) -> None:
        """Re-read the pauses; wake the claim loops when something was resumed."""
        found = PausedSet((p.handler, p.version, p.flow_key) for p in await self._store.pause_list())
        before, self.current = self.current, found
        if before != found:
            log.info("pauses in force: %s", found.describe() or "none")
            if found.resumed_since(before):
                self._wake()

    async def pause(self, target: PauseTarget, reason: str, paused_by: str) -> Pause:
        """Pause a handler (version '': every version), a version or a flow-control key;
        returns once every replica obeys."""
        await self._check_target(target)
        pause = await self._store.pause_set(target, reason, paused_by)
        await self.refresh()
        await asyncio.sleep(self._propagation)
        return pause

    async def resume(self, target: PauseTarget) -> Pause | None:
        """Resume; the pause that was in force, or None when there was none. Queued jobs
        start at once on every replica (each one's claim loops are woken as it learns)."""
        _check_names(target)
        cleared = await self._store.pause_clear(target)
        await self.refresh()
        return cleared

    async def list(self) -> list[Pause]:
        """The pauses in force, by handler and version."""
        return await self._store.pause_list()

    async def _check_target(self, target: PauseTarget) -> None:
        _check_names(target)
        handler, version = target.handler, target.version
        if target.flow_key:
            return  # any key: jobs carrying it may be submitted later
        registered = {spec.version for spec in await self._store.handler_list(handler)}
        if not registered:
            raise NotFound(
                f"no handler named {handler!r} is registered",
                reason="HANDLER_NOT_FOUND",
                resource_type="handler",
                resource_name=handler,
                metadata={"handler": handler, "field": "handler"},
            )
        if version != EVERY_VERSION and version not in registered:
            raise NotFound(
                f"handler {handler!r} has no version {version!r}; versions: {', '.join(sorted(registered))}",
                reason="HANDLER_VERSION_NOT_FOUND",
                resource_type="handler",
                resource_name=handler,
                metadata={"handler": handler, "version": version, "field": "version"},
            )


def _check_names(target: PauseTarget) -> None:
    if target.flow_key:
        if len(target.flow_key.encode()) > MAX_KEY_BYTES:
            raise InvalidArgument(
                f"key is over {MAX_KEY_BYTES} bytes", [FieldViolation("key", f"at most {MAX_KEY_BYTES} bytes")]
            )
        return
    if not target.handler:
        raise InvalidArgument("handler is required", [FieldViolation("handler", "required")])
    if target.version != EVERY_VERSION:
        try:
            Version.parse(target.version)
        except InvalidVersion as exc:
            raise InvalidArgument(
                f"version must be an exact version or empty (every version): {exc}",
                [FieldViolation("version", str(exc))],
            ) from None
