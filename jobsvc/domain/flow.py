"""Flow control: how many jobs of a key may run at once, how many may start per period,
and fair turns between keys when one floods the queue.

A handler declares it beside its code (or a remote worker in its hello):

    @handler("charge", "1.0.0",
             flow=FlowControl(concurrency=ConcurrencyLimit(3, key="{input.customer_id}"),
                              rate=RateLimit(20, period=1.0),          # per handler
                              fairness=Fairness(key="{input.customer_id}")))

Keys are templates rendered at submit from the job: `{handler}`, `{version}`,
`{input.a.b}` (a field of a JSON input), `{input.a.b|host}` (the host:port of the URL in
that field: jobsvc.http's per-host limits), `{label.name}`, and literal text. Jobs share a
limit when their rendered keys are equal, across handlers: a literal key such as
`"images"` makes one queue-wide limit for every handler that names it. The rendered keys
and limits are stored on the job, so every replica and worker applies the same ones.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jobsvc.domain.values import JsonValue

MAX_KEY_BYTES = 256
_FIELD = re.compile(r"\{([^{}]*)\}")
_PATH = re.compile(r"^(handler|version|input(\.[A-Za-z0-9_\-]+)+(\|host)?|label\.[^.{}\s]+)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class WaitReason(enum.StrEnum):
    """Why a queued job is not running; the value is what the store computes."""

    NONE = ""
    SCHEDULED = "scheduled"
    RETRY_BACKOFF = "retry_backoff"
    NO_WORKER = "no_worker"
    CONCURRENCY_LIMIT = "concurrency_limit"
    RATE_LIMIT = "rate_limit"
    PAUSED = "paused"
    # Parked by its handler (ctx.wait) until its child jobs finish: state WAITING.
    CHILDREN = "children"
    # In a durable sleep (ctx.sleep): due when it ends.
    SLEEPING = "sleeping"


class MissingKeyField(ValueError):
    """A key template could not be rendered for a job: `path` names the missing field."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


def check_template(template: str) -> None:
    """Raise ValueError unless every `{...}` of the template is a known placeholder."""
    if not template:
        raise ValueError("a key template may not be empty")
    for match in _FIELD.finditer(template):
        if not _PATH.match(match[1]):
            raise ValueError(
                f"unknown placeholder {{{match[1]}}} in key {template!r}: "
                "use {handler}, {version}, {input.field[.field...]}, {input.field|host} or {label.name}"
            )
    literal = _FIELD.sub("", template)
    if literal.count("{") or literal.count("}"):
        raise ValueError(f"unbalanced braces in key {template!r}")
    # Rendered keys are at most MAX_KEY_BYTES: a longer literal part would refuse every job.
    if len(literal.encode()) > MAX_KEY_BYTES:
        raise ValueError(f"the literal text of key {template[:40]!r}... is over {MAX_KEY_BYTES} bytes")


def render_key(
    template: str, *, handler: str, version: str, input: JsonValue, labels: dict[str, str], field: str
) -> str:
    """The key of one job. Raises MissingKeyField naming the job field a placeholder needs."""

    def value(match: re.Match[str]) -> str:
        path = match[1]
        if path == "handler":
            return handler
        if path == "version":
            return version
        if path.startswith("label."):
            name = path.removeprefix("label.")
            if name not in labels:
                raise MissingKeyField(f"label {name!r} is required by the key {template!r}", f"{field}.labels")
            return labels[name]
        return _input_value(input, path, template=template, field=field)

    key = _FIELD.sub(value, template)
    if len(key.encode()) > MAX_KEY_BYTES:
        raise MissingKeyField(
            f"the key rendered from {template!r} is longer than {MAX_KEY_BYTES} bytes", f"{field}.input"
        )
    return key


def _input_value(input: JsonValue, path: str, *, template: str, field: str) -> str:
    """What `{input.a.b}` or `{input.a.b|host}` renders for one job's input."""
    path, host_of = path.removesuffix("|host"), path.endswith("|host")
    parts = path.split(".")[1:]
    name, job_field = ".".join(parts), f"{field}.input.{'.'.join(parts)}"
    node: Any = input
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            raise MissingKeyField(f"input field {name!r} is required by the key {template!r}", job_field)
        node = node[part]
    if isinstance(node, dict | list) or node is None:
        raise MissingKeyField(
            f"input field {name!r} must be a string, number or boolean for the key {template!r}", job_field
        )
    if host_of:
        if (host := url_host(node)) is None:
            raise MissingKeyField(
                f"input field {name!r} must be an http(s) URL with a host for the key {template!r}", job_field
            )
        return host
    if isinstance(node, float) and node.is_integer():
        node = int(node)  # 42 and 42.0 (JSON through protobuf) are one key
    return str(node).lower() if isinstance(node, bool) else str(node)


def url_host(url: object) -> str | None:
    """`host:port` of an http(s) URL, lower case, the scheme's default port written out
    (`https://API.example.com/x` is `api.example.com:443`), or None for anything else: what
    `{input.url|host}` renders. Read from the URL the request goes to, so a caller cannot
    name one host in the input and send to another."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:  # a port out of range, a bad IPv6 literal
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port or _DEFAULT_PORTS[scheme]}"


@dataclass(frozen=True, slots=True)
class ConcurrencyLimit:
    """At most `max_running` jobs with the same key run at once, on all replicas and workers."""

    max_running: int
    key: str = "{handler}"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `max_starts` jobs with the same key start in any `period` seconds."""

    max_starts: int
    period: float = 1.0
    key: str = "{handler}"


@dataclass(frozen=True, slots=True)
class Fairness:
    """Jobs of one key take turns with other keys' jobs instead of queueing in bulk ahead.

    Each key has a virtual clock that advances `spacing` seconds per job submitted; jobs
    are handed out in order of max(their key's clock, submit time). A key that submits
    10,000 jobs at once places its last one 10,000 spacings in the future, behind jobs
    other keys submit meanwhile; keys that submit slowly are unaffected.
    """

    key: str
    spacing: float = 1.0


@dataclass(frozen=True, slots=True)
class FlowControl:
    """A handler version's limits; any part may be absent."""

    concurrency: ConcurrencyLimit | None = None
    rate: RateLimit | None = None
    fairness: Fairness | None = None

    def __bool__(self) -> bool:
        return any((self.concurrency, self.rate, self.fairness))

    def problems(self) -> list[tuple[str, str]]:
        """(field, what is wrong) for every invalid part; empty when valid."""
        found: list[tuple[str, str]] = []
        if self.concurrency is not None:
            if not 1 <= self.concurrency.max_running <= 1_000_000:
                found.append(("concurrency.max_running", "must be 1..1000000"))
            found.extend(_template_problem("concurrency.key", self.concurrency.key))
        if self.rate is not None:
            if not 1 <= self.rate.max_starts <= 1_000_000:
                found.append(("rate.max_starts", "must be 1..1000000"))
            if not 0.001 <= self.rate.period <= 86_400:
                found.append(("rate.period", "must be 1 ms..1 day"))
            found.extend(_template_problem("rate.key", self.rate.key))
        if self.fairness is not None:
            if not 0 < self.fairness.spacing <= 86_400:
                found.append(("fairness.spacing", "must be > 0 and at most 1 day"))
            found.extend(_template_problem("fairness.key", self.fairness.key))
        return found

    def to_json(self) -> dict[str, JsonValue]:
        """Plain dict for storage."""
        out: dict[str, JsonValue] = {}
        if self.concurrency is not None:
            out["concurrency"] = {"max_running": self.concurrency.max_running, "key": self.concurrency.key}
        if self.rate is not None:
            out["rate"] = {"max_starts": self.rate.max_starts, "period": self.rate.period, "key": self.rate.key}
        if self.fairness is not None:
            out["fairness"] = {"key": self.fairness.key, "spacing": self.fairness.spacing}
        return out

    @classmethod
    def from_json(cls, value: JsonValue) -> FlowControl:
        """Inverse of to_json; parts that are malformed are dropped."""
        if not isinstance(value, dict):
            return cls()
        concurrency = rate = fairness = None
        if isinstance(c := value.get("concurrency"), dict) and isinstance(n := c.get("max_running"), int):
            concurrency = ConcurrencyLimit(n, str(c.get("key") or "{handler}"))
        if isinstance(r := value.get("rate"), dict) and isinstance(n := r.get("max_starts"), int):
            period = r.get("period")
            rate = RateLimit(
                n, float(period) if isinstance(period, int | float) else 1.0, str(r.get("key") or "{handler}")
            )
        if isinstance(f := value.get("fairness"), dict) and isinstance(k := f.get("key"), str):
            spacing = f.get("spacing")
            fairness = Fairness(k, float(spacing) if isinstance(spacing, int | float) else 1.0)
        return cls(concurrency, rate, fairness)


def _template_problem(field: str, template: str) -> list[tuple[str, str]]:
    try:
        check_template(template)
    except ValueError as exc:
        return [(field, str(exc))]
    return []


@dataclass(frozen=True, slots=True)
class FlowKeys:
    """A job's rendered keys and the limits that go with them."""

    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    rate_key: str | None = None
    rate_limit: int | None = None
    rate_period: float | None = None
    fairness_key: str | None = None
    fairness_spacing: float | None = None

    @classmethod
    def render(
        cls,
        flow: FlowControl,
        *,
        handler: str,
        version: str,
        input: JsonValue,
        labels: dict[str, str],
        field: str,
    ) -> FlowKeys:
        """The keys of one job; MissingKeyField names the job field a template needs."""

        def key(template: str) -> str:
            return render_key(template, handler=handler, version=version, input=input, labels=labels, field=field)

        c, r, f = flow.concurrency, flow.rate, flow.fairness
        return cls(
            concurrency_key=key(c.key) if c else None,
            concurrency_limit=c.max_running if c else None,
            rate_key=key(r.key) if r else None,
            rate_limit=r.max_starts if r else None,
            rate_period=r.period if r else None,
            fairness_key=key(f.key) if f else None,
            fairness_spacing=f.spacing if f else None,
        )

    def to_json(self) -> dict[str, JsonValue]:
        """The insert options' part."""
        return {
            "concurrency_key": self.concurrency_key,
            "concurrency_limit": self.concurrency_limit,
            "rate_key": self.rate_key,
            "rate_limit": self.rate_limit,
            "rate_period": self.rate_period,
            "fairness_key": self.fairness_key,
            "fairness_spacing": self.fairness_spacing,
        }
