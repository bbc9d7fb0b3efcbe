"""Paused handlers and handler versions: their queued jobs stay queued, running ones finish.

A pause names a handler and a version, or a handler and '' for every version of it.
`PausedSet` answers "is name@version paused" and filters the versions a claim loop asks
for; it is what each replica keeps in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

EVERY_VERSION = ""


@dataclass(frozen=True)
class Pause:
    """One pause, as stored."""

    handler: str
    version: str
    reason: str
    paused_by: str
    created_at: datetime


class PausedSet:
    """The pauses in force, for quick questions by 'name@version' key."""

    def __init__(self, pauses: Iterable[tuple[str, str]] = ()) -> None:
        self._pairs = frozenset(pauses)
        self._handlers = frozenset(h for h, v in self._pairs if v == EVERY_VERSION)

    @property
    def pairs(self) -> frozenset[tuple[str, str]]:
        """(handler, version) of each pause; version '' for every version."""
        return self._pairs

    def describe(self) -> str:
        """The pauses as handler[@version], comma-separated (for logs)."""
        return ", ".join(sorted(f"{h}@{v}" if v else h for h, v in self._pairs))

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PausedSet) and other._pairs == self._pairs

    def __hash__(self) -> int:
        return hash(self._pairs)

    def paused(self, key: str) -> bool:
        """Whether jobs of 'name@version' may not start."""
        name, _, version = key.rpartition("@")
        return name in self._handlers or (name, version) in self._pairs

    def unpaused(self, keys: tuple[str, ...]) -> tuple[str, ...]:
        """The keys that are not paused (the same tuple when none is)."""
        if not self._pairs:
            return keys
        return tuple(k for k in keys if not self.paused(k))
