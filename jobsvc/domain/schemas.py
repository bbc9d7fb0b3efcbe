"""JSON Schema validators of handler inputs and outputs: checked when a handler is
declared, compiled once per schema, and applied so that a broken schema is an error
about the handler, never a crash of the request that met it.

A schema is usable when it is a JSON object of a draft jsonschema knows, valid
against that draft's metaschema, made of plain JSON (finite numbers, no U+0000);
when every reference in it resolves inside the schema (or to a JSON Schema
metaschema) to a valid schema; and when no chain of in-place applicators (`$ref`,
`allOf`, `anyOf`, `oneOf`, `not`, `if`...) leads back to where it started, which
would validate forever whatever the input.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import jsonschema
import jsonschema_specifications
import referencing
import referencing.exceptions
import referencing.jsonschema

from jobsvc.domain.values import JsonValue

if TYPE_CHECKING:  # referencing exports these types only from its _core module
    from referencing._core import Resolved, Resolver

Validator = jsonschema.protocols.Validator

# References resolve within the schema and the JSON Schema metaschemas only. jsonschema's
# default registry fetches any other URL (urlopen, no timeout, on the event loop): a worker
# could make the server request a URL of its choosing at every Submit.
_LOCAL_ONLY: referencing.Registry[Any] = referencing.Registry()
_METASCHEMAS: referencing.Registry[Any] = jsonschema_specifications.REGISTRY
# Known good: never walked or checked again when a schema refers to them.
_METASCHEMA_IDS = frozenset(id(_METASCHEMAS[uri].contents) for uri in _METASCHEMAS)
_REFERENCES = ("$ref", "$dynamicRef", "$recursiveRef")
# Applicators that apply their subschemas to the same instance ("extends": draft 3): a
# cycle through them and references only never reaches a leaf, whatever the input.
_IN_PLACE_ONE = ("not", "if", "then", "else", "extends")
_IN_PLACE_MANY = ("allOf", "anyOf", "oneOf", "extends")
_IN_PLACE_MAPS = ("dependentSchemas", "dependencies")


class InvalidSchema(ValueError):
    """A schema jsonschema cannot apply; the message says what is wrong, and where."""


def compile_schema(schema: object) -> Validator:
    """The validator of `schema`, or InvalidSchema saying why it cannot be used."""
    check_schema(schema)
    assert isinstance(schema, dict)  # checked
    return jsonschema.validators.validator_for(schema)(schema, registry=_LOCAL_ONLY)


def check_schema(schema: object) -> None:
    """Raise InvalidSchema unless `schema` is usable (see the module docstring).

    The verdict is remembered by the schema's content: every hello of a worker, and every
    registry refresh of every replica, bring the same schemas again, and checking a large
    one against its metaschema is slow (about a second for 2,000 properties)."""
    if not isinstance(schema, dict):
        raise InvalidSchema(f"must be a JSON object, not {type(schema).__name__}")
    try:
        # The checks run on this canonical copy: what the store keeps of the schema.
        text = json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except RecursionError:
        raise InvalidSchema("nested too deeply") from None
    except (TypeError, ValueError) as exc:
        raise InvalidSchema(f"not plain JSON: {exc}") from None
    digest = hashlib.sha256(text.encode()).digest()
    with _verdicts_lock:
        problem = _verdicts.get(digest)
    if problem is None:
        problem = _problem_in(json.loads(text))
        with _verdicts_lock:
            _verdicts[digest] = problem
            while len(_verdicts) > _VERDICTS_KEPT:
                del _verdicts[next(iter(_verdicts))]  # the oldest
    if problem:
        raise InvalidSchema(problem)


# sha256 of a schema's canonical JSON -> what is wrong with it ("" when nothing), oldest
# first: a memo of a pure function (like the selector cache of versions.py), not state.
# Locked: handler modules may be imported, and so their schemas checked, from any thread.
_verdicts: dict[bytes, str] = {}
_verdicts_lock = threading.Lock()
_VERDICTS_KEPT = 4096


def _problem_in(schema: dict[str, Any]) -> str:
    try:
        _check_plain_json(schema, "$")
        draft = _draft(schema)
        _check_against_metaschema(draft, schema, "$")
        _References(draft, schema).check()
    except InvalidSchema as exc:
        return str(exc)
    except RecursionError:
        return "nested too deeply"
    return ""


def errors_of(validator: Validator, instance: JsonValue) -> list[jsonschema.ValidationError]:
    """Every way `instance` fails the schema, in instance order. A schema that breaks
    validation itself (one stored before schemas were checked when declared) raises
    InvalidSchema, not whatever Python raised inside jsonschema."""
    try:
        return sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    except Exception as exc:  # TypeError, RecursionError, re.error, Unresolvable...: the schema's fault
        raise InvalidSchema(f"validation failed inside the schema: {type(exc).__name__}: {exc}") from None


class Validators:
    """A cache of compiled validators by key (the draft comes from each schema's `$schema`),
    each kept while its key's schema stays the same."""

    def __init__(self) -> None:
        # key -> (the schema, its validator or why it cannot be used). A registry refresh
        # reads every schema again, as new objects: compared once, then known by identity.
        self._by_key: dict[str, tuple[dict[str, JsonValue], Validator | str]] = {}

    def get(self, key: str, schema: dict[str, JsonValue]) -> Validator:
        """The validator of `schema`, compiled when first seen under `key`; InvalidSchema
        when the schema cannot be used."""
        known = self._by_key.get(key)
        if known is None or (known[0] is not schema and known[0] != schema):
            try:
                found: Validator | str = compile_schema(schema)
            except InvalidSchema as exc:
                found = str(exc)
            known = self._by_key[key] = (schema, found)
        elif known[0] is not schema:
            known = self._by_key[key] = (schema, known[1])
        if isinstance(known[1], str):
            raise InvalidSchema(known[1])  # a new exception each time: re-raising one grows its traceback
        return known[1]


def _check_plain_json(value: object, where: str) -> None:
    """The schema is stored as jsonb and listed as a google.protobuf.Struct: text keys,
    finite numbers that fit a double, no U+0000."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or "\x00" in key:
                raise InvalidSchema(f"{where}: keys must be text without U+0000")
            _check_plain_json(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_plain_json(item, f"{where}[{index}]")
    elif isinstance(value, str):
        if "\x00" in value:
            raise InvalidSchema(f"{where}: text must not contain U+0000")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not _fits_a_double(value):
            raise InvalidSchema(f"{where}: numbers must be finite and fit a double")
    elif not (isinstance(value, bool) or value is None):
        raise InvalidSchema(f"{where}: {type(value).__name__} is not a JSON value")


def _fits_a_double(number: float) -> bool:
    try:
        return math.isfinite(float(number))
    except OverflowError:
        return False


def _draft(schema: dict[str, JsonValue]) -> type[Validator]:
    dialect = schema.get("$schema")
    if dialect is not None:
        if not isinstance(dialect, str):
            raise InvalidSchema("$.$schema: must be the URI of a JSON Schema draft")
        try:
            referencing.jsonschema.specification_with(dialect)
        except referencing.jsonschema.UnknownDialect:
            # jsonschema would use the latest draft instead, with a warning that it will
            # refuse such a schema in a future version: refused now, when it is declared.
            raise InvalidSchema(f"$.$schema: {dialect!r} is not a JSON Schema draft jsonschema knows") from None
    return jsonschema.validators.validator_for(schema)  # no $schema: the latest draft


def _check_against_metaschema(draft: type[Validator], schema: dict[str, Any], where: str) -> None:
    try:
        draft.check_schema(schema)
    except jsonschema.SchemaError as exc:
        location = exc.json_path.replace("$", where, 1)
        raise InvalidSchema(f"{location}: {exc.message}") from None


class _References:
    """Walks every subschema reachable from the root, through subschemas and references,
    resolving each reference and keeping the in-place edges between subschemas (by the
    identity of each subschema's object), then looks for a cycle."""

    def __init__(self, draft: type[Validator], schema: dict[str, JsonValue]) -> None:
        self._draft = draft
        dialect = schema.get("$schema")  # a known draft's URI (see _draft), or none: the latest draft
        self._specification = (
            referencing.jsonschema.specification_with(dialect)
            if isinstance(dialect, str)
            else referencing.jsonschema.DRAFT202012
        )
        self._root = self._specification.create_resource(schema)
        self._seen: set[int] = set()
        self._edges: dict[int, list[int]] = {}
        self._names: dict[int, str] = {}

    def check(self) -> None:
        """InvalidSchema for the first reference that does not resolve to a schema, regular
        expression that does not compile, or cycle of in-place applicators."""
        registry = _METASCHEMAS.combine(_LOCAL_ONLY)
        pending = [(self._root, registry.resolver_with_root(self._root))]
        inside = set(self._subschemas(self._root))
        while pending:
            resource, resolver = pending.pop()
            contents = resource.contents
            if not isinstance(contents, dict) or id(contents) in self._seen:
                continue
            self._seen.add(id(contents))
            _check_patterns(contents)
            edges = self._edges.setdefault(id(contents), [])
            edges.extend(id(child) for child in _in_place_children(contents))
            for keyword, ref, target in self._targets(contents, resolver):
                edges.append(id(target.contents))
                self._names.setdefault(id(contents), f"{keyword} {ref!r}")
                if id(target.contents) in _METASCHEMA_IDS or not isinstance(target.contents, dict):
                    continue
                if id(target.contents) not in inside:  # the root's check did not cover it
                    _check_against_metaschema(self._draft, target.contents, f"{keyword} {ref!r}")
                    inside.update(self._subschemas(self._resource(target.contents)))
                pending.append((self._resource(target.contents), target.resolver))
            pending.extend((sub, resolver.in_subresource(sub)) for sub in resource.subresources())
        self._check_no_cycle()

    def _resource(self, contents: Any) -> referencing.Resource[Any]:
        return referencing.Resource.from_contents(contents, default_specification=self._specification)

    @staticmethod
    def _subschemas(resource: referencing.Resource[Any]) -> Iterator[int]:
        pending = [resource]
        while pending:
            resource = pending.pop()
            yield id(resource.contents)
            pending.extend(resource.subresources())

    @staticmethod
    def _targets(contents: dict[str, Any], resolver: Resolver[Any]) -> Iterator[tuple[str, str, Resolved[Any]]]:
        for keyword in _REFERENCES:
            ref = contents.get(keyword)
            if not isinstance(ref, str):
                continue
            try:
                target = resolver.lookup(ref)
            except referencing.exceptions.Unresolvable:
                raise InvalidSchema(
                    f"{keyword} {ref!r} does not resolve within the schema (remote references are not fetched)"
                ) from None
            if not isinstance(target.contents, dict | bool):
                raise InvalidSchema(f"{keyword} {ref!r} points at a {type(target.contents).__name__}, not a schema")
            yield keyword, ref, target

    def _check_no_cycle(self) -> None:
        done: set[int] = set()
        for start in self._edges:
            if start in done:
                continue
            on_path = {start}
            path = [(start, iter(self._edges[start]))]
            while path:
                node, successors = path[-1]
                successor = next(successors, None)
                if successor is None:
                    done.add(node)
                    on_path.discard(node)
                    path.pop()
                elif successor in on_path:
                    where = self._names.get(successor) or self._names.get(node) or "in-place applicators"
                    raise InvalidSchema(f"{where}: refers back to itself; validation would never end")
                elif successor not in done:
                    on_path.add(successor)
                    path.append((successor, iter(self._edges.get(successor, ()))))


def _in_place_children(contents: dict[str, Any]) -> Iterator[object]:
    for keyword in _IN_PLACE_ONE:
        child = contents.get(keyword)
        if isinstance(child, dict):
            yield child
    for keyword in _IN_PLACE_MANY:
        children = contents.get(keyword)
        if isinstance(children, list):
            yield from (c for c in children if isinstance(c, dict))
    for keyword in _IN_PLACE_MAPS:
        children = contents.get(keyword)
        if isinstance(children, dict):
            yield from (c for c in children.values() if isinstance(c, dict))


def _check_patterns(contents: dict[str, Any]) -> None:
    # Older metaschemas do not check that patternProperties' names are regular expressions.
    patterns = contents.get("patternProperties")
    if not isinstance(patterns, dict):
        return
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidSchema(f"patternProperties {pattern!r}: not a regular expression: {exc}") from None
