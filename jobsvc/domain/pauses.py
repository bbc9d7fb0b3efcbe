"""Paused handlers, handler versions and flow-control keys: their queued jobs stay queued,
running ones finish.

A pause names a handler and a version, or a handler and '' for every version of it, or a
flow-control key (a rendered concurrency, rate or fairness key, such as a tenant's):
then every job carrying that key waits. `PausedSet` is what each replica keeps in memory:
it answers "is name@version paused", filters the versions a claim loop asks for, and
lists the paused keys a claim leaves out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

EVERY_VERSION = ""


@dataclass(frozen=True)
class Pause:
    """One pause, as stored: of a handler (flow_key '') or of a flow-control key (handler '')."""

    handler: str
    version: str
    flow_key: str
    reason: str
    paused_by: str
    created_at: datetime


@dataclass(frozen=True)
class PauseTarget:
    """What a pause names: handler (and version, '' for every version), or flow_key alone."""

    handler: str = ""
    version: str = EVERY_VERSION
    flow_key: str = ""

    def columns(self) -> dict[str, str]:
        """As the columns of jobsvc_pauses."""
        return {"handler": self.handler, "version": self.version, "flow_key": self.flow_key}


class PausedSet:
    """The pauses in force, for quick questions by 'name@version' key."""

    def __init__(self, pauses: Iterable[tuple[str, str, str]] = ()) -> None:
        found = frozenset(pauses)
        self._pairs = frozenset((h, v) for h, v, k in found if not k)
        self._handlers = frozenset(h for h, v in self._pairs if v == EVERY_VERSION)
        # Sorted: the claim query takes them as an array parameter.
        self.flow_keys = tuple(sorted(k for _h, _v, k in found if k))

    @property
    def pairs(self) -> frozenset[tuple[str, str]]:
        """(handler, version) of each handler pause; version '' for every version."""
        return self._pairs

    def describe(self) -> str:
        """The pauses as handler[@version] and key:KEY, comma-separated (for logs)."""
        handlers = [f"{h}@{v}" if v else h for h, v in self._pairs]
        return ", ".join(sorted(handlers) + [f"key:{k}" for k in self.flow_keys])

    def resumed_since(self, before: PausedSet) -> bool:
        """Whether any pause in `before` is no longer in force."""
        return bool(before._pairs - self._pairs) or bool(set(before.flow_keys) - set(self.flow_keys))

    def __bool__(self) -> bool:
        return bool(self._pairs or self.flow_keys)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PausedSet) and (other._pairs, other.flow_keys) == (self._pairs, self.flow_keys)

    def __hash__(self) -> int:
        return hash((self._pairs, self.flow_keys))

    def paused(self, key: str) -> bool:
        """Whether jobs of 'name@version' may not start."""
        if not self._pairs:
            return False  # the usual case, asked for every Call's job
        name, _, version = key.rpartition("@")
        return name in self._handlers or (name, version) in self._pairs

    def holds(self, handler: str, version: str, flow_keys: Iterable[str | None]) -> bool:
        """Whether a job of handler@version with these flow-control keys would wait PAUSED."""
        return self.paused(f"{handler}@{version}") or any(k in self.flow_keys for k in flow_keys if k)

    def unpaused(self, keys: tuple[str, ...]) -> tuple[str, ...]:
        """The keys that are not paused (the same tuple when none is)."""
        if not self._pairs:
            return keys
        return tuple(k for k in keys if not self.paused(k))
