"""Tests for jobsvc.domain.versions: semver parsing and ordering, and npm-style selectors."""

from __future__ import annotations

import itertools

import pytest

from jobsvc.domain.versions import InvalidVersion, InvalidVersionSelector, Version, VersionSelector


def v(text: str) -> Version:
    return Version.parse(text)


# --- Version.parse -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0", Version(0, 0, 0)),
        ("1.4.2", Version(1, 4, 2)),
        ("10.20.30", Version(10, 20, 30)),
        ("1.0.0-alpha", Version(1, 0, 0, ("alpha",))),
        ("1.0.0-alpha.1", Version(1, 0, 0, ("alpha", "1"))),
        ("1.0.0-0.3.7", Version(1, 0, 0, ("0", "3", "7"))),
        ("1.0.0-x-y-z.--", Version(1, 0, 0, ("x-y-z", "--"))),
        ("1.0.0-rc.1+build.1", Version(1, 0, 0, ("rc", "1"), "build.1")),
        ("1.0.0+20130313144700", Version(1, 0, 0, (), "20130313144700")),
        ("1.0.0+exp.sha.5114f85-x.001", Version(1, 0, 0, (), "exp.sha.5114f85-x.001")),
    ],
)
def test_parse_valid(text: str, expected: Version) -> None:
    parsed = Version.parse(text)
    assert parsed == expected
    assert parsed.build == expected.build
    assert str(parsed) == text


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "expected MAJOR.MINOR.PATCH"),
        ("1", "expected MAJOR.MINOR.PATCH"),
        ("1.2", "expected MAJOR.MINOR.PATCH"),
        ("1.2.3.4", "expected MAJOR.MINOR.PATCH"),
        ("v1.2.3", "major 'v1' is not a number"),
        (" 1.2.3", "is not a number"),
        ("1.2.x", "patch 'x' is not a number"),
        ("01.2.3", "major '01' has a leading zero"),
        ("1.02.3", "minor '02' has a leading zero"),
        ("1.2.03", "patch '03' has a leading zero"),
        ("1.2.3-", "prerelease identifier '' is empty"),
        ("1.2.3-alpha..1", "prerelease identifier '' is empty"),
        ("1.2.3-alpha_1", "prerelease identifier 'alpha_1'"),
        ("1.2.3-01", "prerelease identifier '01' has a leading zero"),
        ("1.2.3+", "build identifier '' is empty"),
        ("1.2.3+a+b", "build identifier 'a+b'"),
        ("1.2.3-é", "outside [0-9A-Za-z-]"),
    ],
)
def test_parse_invalid(text: str, complaint: str) -> None:
    with pytest.raises(InvalidVersion) as info:
        Version.parse(text)
    assert repr(text) in str(info.value)
    assert complaint in str(info.value)
    assert isinstance(info.value, ValueError)


# --- ordering ------------------------------------------------------------------------------------

SPEC_CHAIN = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "1.10.0",
    "2.0.0-0",
    "2.0.0",
    "10.0.0",
]


@pytest.mark.parametrize(("lower", "higher"), list(itertools.combinations(SPEC_CHAIN, 2)))
def test_ordering_follows_semver_precedence(lower: str, higher: str) -> None:
    a, b = v(lower), v(higher)
    assert a < b
    assert a <= b
    assert b > a
    assert b >= a
    assert a != b


def test_sorting_shuffled_chain() -> None:
    shuffled = [v(t) for t in reversed(SPEC_CHAIN)]
    assert [str(x) for x in sorted(shuffled)] == SPEC_CHAIN


@pytest.mark.parametrize(("left", "right"), [("1.0.0+a", "1.0.0+b"), ("1.0.0-rc.1+x", "1.0.0-rc.1")])
def test_build_metadata_ignored_for_equality_and_order(left: str, right: str) -> None:
    a, b = v(left), v(right)
    assert a == b
    assert hash(a) == hash(b)
    assert not a < b
    assert not b < a


# --- selectors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "matching", "not_matching"),
    [
        ("", ["0.0.0", "1.0.0", "99.1.2"], ["1.0.0-rc.1"]),
        ("*", ["0.0.1", "3.2.1"], ["3.2.1-beta"]),
        ("latest", ["0.1.0", "5.0.0"], ["5.0.0-0"]),
        ("x", ["2.0.0"], ["2.0.0-alpha"]),
        ("1.4.0", ["1.4.0", "1.4.0+build.7"], ["1.4.1", "1.3.9", "1.4.0-rc.1"]),
        ("=1.4.0", ["1.4.0"], ["1.4.1"]),
        ("v1.4.0", ["1.4.0"], ["1.4.1"]),
        ("=v1.4.0", ["1.4.0"], ["2.4.0"]),
        ("1", ["1.0.0", "1.9.9"], ["0.9.9", "2.0.0", "1.5.0-rc.1", "2.0.0-0"]),
        ("1.x", ["1.0.0", "1.9.9"], ["2.0.0"]),
        ("1.*", ["1.2.3"], ["0.1.0"]),
        ("1.4", ["1.4.0", "1.4.9"], ["1.3.9", "1.5.0"]),
        ("1.4.x", ["1.4.0", "1.4.9"], ["1.5.0"]),
        ("1.x.x", ["1.4.0"], ["2.0.0"]),
        ("^1.4.2", ["1.4.2", "1.9.0"], ["1.4.1", "2.0.0", "2.0.0-0"]),
        ("^0.4.2", ["0.4.2", "0.4.9"], ["0.4.1", "0.5.0"]),
        ("^0.0.3", ["0.0.3"], ["0.0.2", "0.0.4"]),
        ("^1.4", ["1.4.0", "1.99.0"], ["1.3.9", "2.0.0"]),
        ("^1", ["1.0.0", "1.99.0"], ["0.9.0", "2.0.0"]),
        ("^0", ["0.0.0", "0.9.9"], ["1.0.0"]),
        ("^0.0", ["0.0.0", "0.0.9"], ["0.1.0"]),
        ("^1.x", ["1.2.0"], ["2.0.0"]),
        ("~1.4.2", ["1.4.2", "1.4.9"], ["1.4.1", "1.5.0"]),
        ("~1.4", ["1.4.0", "1.4.9"], ["1.3.9", "1.5.0"]),
        ("~1", ["1.0.0", "1.9.0"], ["0.9.0", "2.0.0"]),
        ("~ 1.4", ["1.4.3"], ["1.5.0"]),
        (">=1.2", ["1.2.0", "7.0.0"], ["1.1.9"]),
        (">=1.2.3", ["1.2.3"], ["1.2.2"]),
        (">1.2", ["1.3.0"], ["1.2.9", "1.2.0"]),
        (">1", ["2.0.0"], ["1.9.9"]),
        (">1.2.3", ["1.2.4"], ["1.2.3"]),
        ("<2", ["1.9.9"], ["2.0.0", "2.0.0-0"]),
        ("<1.2", ["1.1.9"], ["1.2.0"]),
        ("<1.2.3", ["1.2.2"], ["1.2.3"]),
        ("<=1.2", ["1.2.9", "0.1.0"], ["1.3.0"]),
        ("<=1", ["1.9.9"], ["2.0.0"]),
        ("<=1.2.3", ["1.2.3"], ["1.2.4"]),
        ("> 1.2", ["1.3.0"], ["1.2.5"]),
        (">*", [], ["0.0.0", "1.0.0"]),
        ("<*", [], ["0.0.0"]),
        ("1.2 - 2.3.4", ["1.2.0", "2.3.4"], ["1.1.9", "2.3.5"]),
        ("1.2.3 - 2", ["1.2.3", "2.9.9"], ["1.2.2", "3.0.0"]),
        ("1.2.3 - 2.3", ["2.3.9"], ["2.4.0"]),
        ("* - 2", ["0.0.0", "2.5.0"], ["3.0.0"]),
        (">=1.2 <2", ["1.2.0", "1.9.9"], ["1.1.0", "2.0.0"]),
        (">=1.2.0  <1.3.0", ["1.2.5"], ["1.3.0"]),
        ("1.x || >=2.5.0 || 5.0.0 - 7.2.3", ["1.2.3", "2.5.0", "9.0.0"], ["2.4.9", "0.1.0"]),
        ("^1 || ^3", ["1.5.0", "3.1.0"], ["2.0.0"]),
    ],
)
def test_selector_forms(selector: str, matching: list[str], not_matching: list[str]) -> None:
    parsed = VersionSelector.parse(selector)
    for text in matching:
        assert parsed.matches(v(text)), f"{selector!r} should match {text}"
    for text in not_matching:
        assert not parsed.matches(v(text)), f"{selector!r} should not match {text}"


@pytest.mark.parametrize(
    ("selector", "matching", "not_matching"),
    [
        # A selector naming a prerelease admits prereleases of that same MAJOR.MINOR.PATCH only.
        ("2.1.0-rc.1", ["2.1.0-rc.1"], ["2.1.0-rc.2", "2.1.0"]),
        ("^1.2.3-beta.2", ["1.2.3-beta.2", "1.2.3-beta.4", "1.2.3", "1.9.0"], ["1.2.3-beta.1", "1.2.4-beta"]),
        (">=1.3.0-rc.0", ["1.3.0-rc.0", "1.3.0-rc.5", "1.3.0", "2.0.0"], ["1.3.1-rc.1", "2.0.0-rc.1"]),
        ("~1.2.3-alpha", ["1.2.3-alpha.7", "1.2.9"], ["1.2.4-alpha", "1.2.3-0"]),
        ("1.2.3-alpha - 1.2.5", ["1.2.3-beta", "1.2.4"], ["1.2.5-rc.1", "1.2.4-rc.1"]),
        ("<1.3.0-rc.2", ["1.2.0", "1.3.0-rc.1"], ["1.2.9-rc.1", "1.3.0-rc.2"]),
        ("^1.2.0", ["1.2.0"], ["1.3.0-rc.1", "1.2.1-0"]),
        ("^1.2.0 || 2.0.0-rc.1", ["2.0.0-rc.1"], ["2.0.0-rc.2"]),
        ("*", [], ["1.0.0-alpha"]),
    ],
)
def test_prerelease_rule(selector: str, matching: list[str], not_matching: list[str]) -> None:
    test_selector_forms(selector, matching, not_matching)


AVAILABLE = [v(t) for t in ["1.4.0", "1.9.3", "2.0.0", "2.1.0-rc.1"]]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", "2.0.0"),
        ("*", "2.0.0"),
        ("^1", "1.9.3"),
        ("~1.4", "1.4.0"),
        (">=1.2 <2", "1.9.3"),
        ("^2", "2.0.0"),
        ("2.1.0-rc.1", "2.1.0-rc.1"),
        (">=2.1.0-rc.0", "2.1.0-rc.1"),
        ("1.4.0 || 1.9.3", "1.9.3"),
        ("^3", None),
        ("<1", None),
    ],
)
def test_best_picks_newest_match(selector: str, expected: str | None) -> None:
    best = VersionSelector.parse(selector).best(AVAILABLE)
    assert best == (None if expected is None else v(expected))
    assert VersionSelector.parse(selector).best(reversed(AVAILABLE)) == best


def test_best_of_nothing_is_none() -> None:
    assert VersionSelector.parse("*").best([]) is None


@pytest.mark.parametrize(
    ("selector", "exact"),
    [
        ("1.4.0", True),
        ("=1.4.0", True),
        ("v1.4.0", True),
        (" 2.1.0-rc.1+b ", True),
        ("1.4", False),
        ("^1.4.0", False),
        (">=1.4.0", False),
        ("1.4.0 || 1.5.0", False),
        ("", False),
        ("1.4.0 - 1.4.0", False),
    ],
)
def test_is_exact(selector: str, exact: bool) -> None:
    assert VersionSelector.parse(selector).is_exact() is exact


@pytest.mark.parametrize("selector", ["", "  ^1.4 ", ">=1.2 <2", "1.x || 3"])
def test_str_is_stripped_original(selector: str) -> None:
    assert str(VersionSelector.parse(selector)) == selector.strip()


@pytest.mark.parametrize(
    ("selector", "bad_part"),
    [
        ("banana", "'banana' is not a version"),
        ("1.2.3.4", "'1.2.3.4' is not a version"),
        ("01.2", "'01.2' is not a version"),
        ("=>1.2", "'=>1.2' is not a version"),
        ("~>1.2", "'~>1.2' is not a version"),
        (">=", "operator '>=' needs a version"),
        ("^", "operator '^' needs a version"),
        ("1.x.3", "'1.x.3': a number cannot follow a wildcard"),
        ("x.1", "'x.1': a number cannot follow a wildcard"),
        ("1.2-beta", "'1.2-beta' is not a version"),
        ("1.x.x-beta", "a prerelease or build needs a full MAJOR.MINOR.PATCH"),
        ("1.2.3-01", "prerelease identifier '01' has a leading zero"),
        ("1.2.3-", "prerelease identifier '' is empty"),
        ("1.2.3 ||", "empty alternative next to '||'"),
        ("|| 1.2.3", "empty alternative next to '||'"),
        ("1.2.3 || || 2", "empty alternative next to '||'"),
        ("1.2 - ", "'-' is not a version"),
        ("1.2 - 2 - 3", "'-' is not a version"),
        (">=1.2 <2 |", "'|' is not a version"),
        ("latest.1", "'latest.1' is not a version"),
    ],
)
def test_invalid_selectors(selector: str, bad_part: str) -> None:
    with pytest.raises(InvalidVersionSelector) as info:
        VersionSelector.parse(selector)
    message = str(info.value)
    assert repr(selector.strip()) in message
    assert bad_part in message
    assert isinstance(info.value, ValueError)


def test_overlong_versions_and_selectors_are_invalid_not_a_crash() -> None:
    """Regression: a version of 5,000 digits raised a plain ValueError from int() (past its
    4,300-digit limit), which callers did not catch: a worker's hello answered UNKNOWN and
    a Submit INTERNAL. Lengths are bounded as npm bounds them (256 for a version)."""
    assert str(Version.parse("9" * 250 + ".0.0")).startswith("9" * 250)
    for text in ["9" * 5000 + ".0.0", "1.0.0-" + "a" * 300, "1.0.0+" + "b" * 300]:
        with pytest.raises(InvalidVersion, match="longer than 256 characters"):
            Version.parse(text)
    assert VersionSelector.parse("^" + "9" * 1000).best([]) is None
    for selector in ["9" * 5000, "^" + "9" * 5000, " || ".join(["1.0.0"] * 200)]:
        with pytest.raises(InvalidVersionSelector, match="longer than 1024 characters"):
            VersionSelector.parse(selector)
