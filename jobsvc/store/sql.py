"""Loads the named SQL blocks of queries.sql once, and the numbered migrations.

A block names its parameters (`:job_id`, `:now`); asyncpg speaks only `$1..$n`, so each
block is compiled once into the text PostgreSQL runs and the order of its names, and
callers pass arguments by name (`bind`). The argument order lives here, nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
# A line of a block that only its variant runs: `--+keyed ON CONFLICT ...` is a comment in
# block `x`, and the text after the marker is a line of block `x+keyed`.
_VARIANT_LINE = re.compile(r"^(\s*)--\+(\w+) ", re.MULTILINE)
_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")

# What a parameter is looked for in: everything but literals, quoted identifiers, comments
# and dollar-quoted bodies (kept as they are), and `::` casts (not parameters).
_TOKENS = re.compile(
    r"""
      (?P<literal> '(?:[^']|'')*' | "(?:[^"]|"")*" | --[^\n]* | /\*.*?\*/ | (?P<tag>\$(?:[A-Za-z_]\w*)?\$).*?(?P=tag) )
    | (?P<cast> :: )
    | :(?P<parameter> [A-Za-z_]\w* )
    | (?P<positional> \$\d+ )
    """,
    re.VERBOSE | re.DOTALL,
)


class QueryParameterError(TypeError):
    """A named query was called with a parameter missing or one it does not take."""


@dataclass(frozen=True, slots=True)
class Query:
    """One named block: the SQL PostgreSQL runs, and its parameter names in `$n` order."""

    name: str
    sql: str
    parameters: tuple[str, ...]

    def arguments(self, values: Mapping[str, object]) -> tuple[object, ...]:
        """The values in `$n` order; QueryParameterError names every missing or unknown one."""
        if len(values) == len(self.parameters):
            try:
                return tuple(values[p] for p in self.parameters)  # every one given, none other
            except KeyError:
                pass
        missing = [p for p in self.parameters if p not in values]
        unknown = sorted(set(values) - set(self.parameters))
        if missing or unknown:
            problems = [f"missing {', '.join(':' + p for p in missing)}"] if missing else []
            problems += [f"unknown {', '.join(':' + p for p in unknown)}"] if unknown else []
            takes = ", ".join(":" + p for p in self.parameters) or "no parameters"
            raise QueryParameterError(f"query {self.name}: {'; '.join(problems)} (it takes {takes})")
        return tuple(values[p] for p in self.parameters)


def compile_query(name: str, text: str) -> Query:
    """A block written with `:name` parameters as asyncpg runs it: each distinct name
    becomes `$n`, numbered in order of first use."""
    order: dict[str, int] = {}

    def replace(match: re.Match[str]) -> str:
        if match["positional"]:
            raise ValueError(f"query {name} uses {match['positional']}: name its parameters (:name)")
        parameter = match["parameter"]
        if parameter is None:
            return match[0]
        number = order.setdefault(parameter, len(order) + 1)
        return f"${number}"

    return Query(name, _TOKENS.sub(replace, text), tuple(order))


@cache
def queries(file: str = "queries.sql") -> dict[str, Query]:
    """The named queries of one file of jobsvc/store/sql (the service's, by default), by name."""
    text = resources.files("jobsvc.store").joinpath("sql", file).read_text("utf-8")
    parts = _NAME_LINE.split(text)
    named: dict[str, Query] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in named:
            raise ValueError(f"query {name!r} is defined twice in {file}")
        named[name] = compile_query(name, body.strip())
        for variant in sorted({found for _, found in _VARIANT_LINE.findall(body)}):
            named[f"{name}+{variant}"] = compile_query(f"{name}+{variant}", _variant(body, variant).strip())
    return named


def _variant(body: str, variant: str) -> str:
    """The block as its variant runs it: that variant's marked lines uncommented, the
    marked lines of any other variant left as comments."""
    return _VARIANT_LINE.sub(lambda line: line[1] if line[2] == variant else line[0], body)


def query(name: str) -> str:
    """The SQL of one named query as PostgreSQL runs it; KeyError names a missing block."""
    return queries()[name].sql


def bind(name: str, /, **values: object) -> tuple[str, tuple[object, ...]]:
    """A named query's SQL and its arguments in `$n` order, from arguments by name:
    `sql, args = bind("job_get", job_id=..., payloads=True); await conn.fetch(sql, *args)`."""
    named = queries()[name]
    return named.sql, named.arguments(values)


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered, append-only schema change."""

    version: int
    name: str
    sql: str


@cache
def migrations() -> tuple[Migration, ...]:
    """The migrations in the order they apply."""
    folder = resources.files("jobsvc.store").joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise ValueError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return tuple(found)
