"""Semantic versions and the selectors callers use to pick a handler version.

A :class:`Version` follows semver 2.0.0: ``MAJOR.MINOR.PATCH[-prerelease][+build]``.

A :class:`VersionSelector` is the npm-style subset users expect (a leading ``v`` is allowed anywhere):

* ``""``, ``*``, ``x``, ``latest``: any release;
* ``1.4.0``, ``=1.4.0``, ``v1.4.0``: exactly that version;
* ``1``, ``1.x``, ``1.*``: ``>=1.0.0 <2.0.0-0``; ``1.4``, ``1.4.x``: ``>=1.4.0 <1.5.0-0``;
* ``^1.4.2``: ``>=1.4.2 <2.0.0-0``, ``^0.4.2``: ``<0.5.0-0``, ``^0.0.3``: ``<0.0.4-0`` (left-most non-zero
  part is fixed);
* ``~1.4.2``, ``~1.4``: ``>=1.4.x <1.5.0-0``; ``~1``: ``>=1.0.0 <2.0.0-0``;
* ``>=``, ``>``, ``<``, ``<=`` with full or partial versions: ``>1.2`` is ``>=1.3.0``, ``<=1.2`` is
  ``<1.3.0-0``, ``<2`` is ``<2.0.0-0``;
* ``1.2 - 2.3.4``: ``>=1.2.0 <=2.3.4``;
* space-separated comparators must all hold; ``||`` separates alternatives.

Prereleases match only a comparator set in which some comparator itself names a prerelease of the same
``MAJOR.MINOR.PATCH`` (npm's rule), so ``^1.2.0`` never picks ``1.3.0-rc.1`` but ``>=1.3.0-rc.0`` may.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import total_ordering

__all__ = ["InvalidVersion", "InvalidVersionSelector", "Version", "VersionSelector"]

# npm's limit on a version's length. It also keeps every number far below the 4,300 digits
# past which int() refuses text (a ValueError that is not an InvalidVersion); and a
# version is part of the handlers' primary key, which a btree entry bounds to 2,704 bytes.
MAX_VERSION_LENGTH = 256
MAX_SELECTOR_LENGTH = 1024
_NUMBER = re.compile(r"0|[1-9][0-9]*")
_IDENTIFIER = re.compile(r"[0-9A-Za-z-]+")
_CORE_NAMES = ("major", "minor", "patch")


class InvalidVersion(ValueError):
    """The text is not a semver 2.0.0 version."""


class InvalidVersionSelector(ValueError):
    """The text is not a version selector of the supported grammar."""


def _identifiers(text: str, kind: str, ids: str, *, numeric_leading_zero: bool) -> tuple[str, ...]:
    parts = tuple(ids.split("."))
    for part in parts:
        if not _IDENTIFIER.fullmatch(part):
            raise InvalidVersion(
                f"invalid version {text!r}: {kind} identifier {part!r} is empty or has characters outside [0-9A-Za-z-]"
            )
        if not numeric_leading_zero and part.isdigit() and not _NUMBER.fullmatch(part):
            raise InvalidVersion(f"invalid version {text!r}: {kind} identifier {part!r} has a leading zero")
    return parts


def _core(text: str, core: str) -> tuple[int, int, int]:
    parts = core.split(".")
    if len(parts) != 3:
        raise InvalidVersion(f"invalid version {text!r}: expected MAJOR.MINOR.PATCH, got {core!r}")
    for name, part in zip(_CORE_NAMES, parts, strict=True):
        if not re.fullmatch(r"[0-9]+", part):
            raise InvalidVersion(f"invalid version {text!r}: {name} {part!r} is not a number")
        if not _NUMBER.fullmatch(part):
            raise InvalidVersion(f"invalid version {text!r}: {name} {part!r} has a leading zero")
    return int(parts[0]), int(parts[1]), int(parts[2])


def _identifier_key(identifier: str) -> tuple[int, int, str]:
    # Numeric identifiers compare numerically and sort below alphanumeric ones (semver 11.4).
    return (0, int(identifier), "") if identifier.isdigit() else (1, 0, identifier)


@total_ordering
@dataclass(frozen=True, order=False)
class Version:
    """A semver 2.0.0 version; ``build`` is kept but ignored by equality and ordering."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``MAJOR.MINOR.PATCH[-pre][+build]`` strictly, raising :class:`InvalidVersion`."""
        if len(text) > MAX_VERSION_LENGTH:
            raise InvalidVersion(f"invalid version {text[:40]!r}...: longer than {MAX_VERSION_LENGTH} characters")
        # Build metadata may contain '-', so it is cut off first; the core can never contain '-'.
        rest, plus, build = text.partition("+")
        core, dash, pre = rest.partition("-")
        major, minor, patch = _core(text, core)
        prerelease = _identifiers(text, "prerelease", pre, numeric_leading_zero=False) if dash else ()
        if plus:
            _identifiers(text, "build", build, numeric_leading_zero=True)
        return cls(major, minor, patch, prerelease, build)

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # A release sorts above all its prereleases; tuple comparison makes a shorter prerelease lower.
        return (
            self.major,
            self.minor,
            self.patch,
            0 if self.prerelease else 1,
            tuple(_identifier_key(i) for i in self.prerelease),
        )

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        return f"{text}+{self.build}" if self.build else text


_Comparator = tuple[str, Version]
_OPS: dict[str, Callable[[Version, Version], bool]] = {
    "=": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
    "<": operator.lt,
    "<=": operator.le,
}
_WILDCARDS = frozenset({"x", "X", "*"})
_PART = r"0|[1-9][0-9]*|[xX*]"
_PARTIAL = re.compile(rf"v?({_PART})(?:\.({_PART})(?:\.({_PART})([-+].*)?)?)?")
_HYPHEN_RANGE = re.compile(r"(\S+)\s+-\s+(\S+)")
_SPACE_AFTER_OP = re.compile(r"(>=|<=|[<>=^~])\s+")
_OPERATORS = (">=", "<=", ">", "<", "=", "^", "~")  # two-character operators first
# '-0' is the lowest version of a core, so an upper bound of X.Y.Z-0 also excludes X.Y.Z's prereleases.
_NOTHING: tuple[_Comparator, ...] = (("<", Version(0, 0, 0, ("0",))),)


def _bad(text: str, reason: str) -> InvalidVersionSelector:
    return InvalidVersionSelector(f"invalid version selector {text.strip()!r}: {reason}")


def _filled(nums: Iterable[int], prerelease: tuple[str, ...] = ()) -> Version:
    major, minor, patch = [*nums, 0, 0, 0][:3]
    return Version(major, minor, patch, prerelease)


def _bump(nums: tuple[int, ...], index: int, prerelease: tuple[str, ...] = ("0",)) -> Version:
    return _filled([*nums[:index], nums[index] + 1], prerelease)


def _partial(text: str, token: str, part: str) -> tuple[tuple[int, ...], Version]:
    """Parse a possibly partial version: its known numeric parts and the lowest version it covers."""
    match = _PARTIAL.fullmatch(part)
    if match is None:
        raise _bad(text, f"{token!r} is not a version (expected e.g. 1.4.2, 1.4, 1.x or *)")
    *fields, rest = match.groups()
    known = [f for f in fields if f is not None]
    nums = tuple(int(f) for f in known if f not in _WILDCARDS)
    if any(f not in _WILDCARDS for f in known[len(nums) :]):
        raise _bad(text, f"{token!r}: a number cannot follow a wildcard")
    if rest is None:
        return nums, _filled(nums)
    if len(nums) < 3:
        raise _bad(text, f"{token!r}: a prerelease or build needs a full MAJOR.MINOR.PATCH")
    try:
        return nums, Version.parse(part.removeprefix("v"))
    except InvalidVersion as exc:
        raise _bad(text, f"{token!r}: {exc}") from exc


def _desugar_partial(op: str, nums: tuple[int, ...], low: Version) -> list[_Comparator]:
    last = len(nums) - 1
    if op == ">=":
        return [(">=", low)]
    if op == ">":
        return [(">=", _bump(nums, last, ()))]
    if op == "<":
        return [("<", replace(low, prerelease=("0",)))]
    if op == "<=":
        return [("<", _bump(nums, last))]
    return [(">=", low), ("<", _bump(nums, last))]


def _desugar(op: str, nums: tuple[int, ...], low: Version) -> list[_Comparator]:
    """Turn one operator and (partial) version into plain comparators."""
    if not nums:
        # npm: '>*' and '<*' match nothing, every other operator on '*' matches anything.
        return list(_NOTHING) if op in (">", "<") else []
    if op == "^":
        # The left-most non-zero part is fixed; '^0.0' fixes 0.0 like '~0.0'.
        fixed = next((i for i, n in enumerate(nums) if n), len(nums) - 1)
        return [(">=", low), ("<", _bump(nums, fixed))]
    if op == "~":
        return [(">=", low), ("<", _bump(nums, min(len(nums), 2) - 1))]
    if len(nums) == 3:
        return [(op or "=", low)]
    return _desugar_partial(op, nums, low)


def _alternative(text: str, alternative: str) -> tuple[_Comparator, ...]:
    hyphen = _HYPHEN_RANGE.fullmatch(alternative)
    if hyphen:
        low, high = hyphen.group(1), hyphen.group(2)
        return (*_desugar(">=", *_partial(text, low, low)), *_desugar("<=", *_partial(text, high, high)))
    comparators: list[_Comparator] = []
    for token in _SPACE_AFTER_OP.sub(r"\1", alternative).split():
        if token == "latest":
            continue
        op = next((o for o in _OPERATORS if token.startswith(o)), "")
        part = token[len(op) :]
        if not part:
            raise _bad(text, f"operator {op!r} needs a version after it")
        comparators.extend(_desugar(op, *_partial(text, token, part)))
    return tuple(comparators)


def _set_matches(comparators: tuple[_Comparator, ...], version: Version) -> bool:
    if not all(_OPS[op](version, bound) for op, bound in comparators):
        return False
    core = (version.major, version.minor, version.patch)
    # npm's rule: a prerelease is only wanted when the selector names a prerelease of the same release.
    return not version.prerelease or any(
        bound.prerelease and (bound.major, bound.minor, bound.patch) == core for _, bound in comparators
    )


class VersionSelector:
    """An npm-style version range (see the module docstring); build with :meth:`parse`."""

    __slots__ = ("_alternatives", "_text")

    def __init__(self, text: str, alternatives: tuple[tuple[_Comparator, ...], ...]) -> None:
        self._text = text.strip()
        self._alternatives = alternatives

    @classmethod
    def parse(cls, text: str) -> VersionSelector:
        """Parse a selector, raising :class:`InvalidVersionSelector` naming the bad part.
        Selectors are immutable, and a service sees few distinct ones: parsed once each."""
        return _parse_selector(text)

    @classmethod
    def _parse(cls, text: str) -> VersionSelector:
        if len(text) > MAX_SELECTOR_LENGTH:
            raise InvalidVersionSelector(
                f"invalid version selector {text[:40]!r}...: longer than {MAX_SELECTOR_LENGTH} characters"
            )
        if not text.strip():
            return cls(text, ((),))
        alternatives = []
        for alternative in text.split("||"):
            if not alternative.strip():
                raise _bad(text, "empty alternative next to '||'")
            alternatives.append(_alternative(text, alternative.strip()))
        return cls(text, tuple(alternatives))

    def matches(self, version: Version) -> bool:
        """Whether ``version`` satisfies any alternative of this selector."""
        return any(_set_matches(alternative, version) for alternative in self._alternatives)

    def best(self, versions: Iterable[Version]) -> Version | None:
        """The newest of ``versions`` that matches, or None."""
        return max((v for v in versions if self.matches(v)), default=None)

    def is_exact(self) -> bool:
        """Whether the selector names exactly one version (``1.4.0``, ``=1.4.0``, ``v1.4.0``)."""
        return len(self._alternatives) == 1 and [op for op, _ in self._alternatives[0]] == ["="]

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"VersionSelector.parse({self._text!r})"


@functools.lru_cache(maxsize=4096)
def _parse_selector(text: str) -> VersionSelector:
    return VersionSelector._parse(text)
