"""HTTP delivery: the built-in handler `jobsvc.http` 1.0.0, which sends one HTTP request
and retries it by the job's retry policy until the receiver accepts it (webhooks,
callbacks, "deliver this until it succeeds").

- 2xx succeeds; the result is the response: status, headers, body (text, cut at the
  response limit), timings.
- 408, 429 and 5xx fail the attempt and retry, after the response's Retry-After when it
  has one (RetryLater), else the policy's backoff; connection errors and timeouts retry.
- Any other status (4xx, a redirect past the limit) fails the job: no retry can fix it.
- Targets on private, loopback, link-local and other non-public addresses are refused
  unless the operator allows them (server-side request forgery). The check is made on the
  addresses the host name resolves to, and the request goes to the checked address (Host
  header and TLS server name kept), so a name that resolves differently a moment later
  cannot slip past it. Redirects are followed by hand, each hop checked the same way.
- Per-host limits (the operator's --http-host-concurrency and --http-host-rate) are
  flow-control keys rendered from the URL itself, `jobsvc.http:{input.url|host}`
  (host:port), so a job cannot claim another host than the one it sends to. They bind the
  URL's host; a redirect to another host is sent under the first host's slot.
- With `signing_secret` naming a secret of the server's configuration, the request
  carries `Jobsvc-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

The server serves it when started with --http-delivery (see HttpDeliveryConfig).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import socket
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from jobsvc.domain.errors import NonRetryableError, RetryLater
from jobsvc.domain.flow import ConcurrencyLimit, FlowControl, RateLimit
from jobsvc.domain.handlers import HandlerDefinition, JobContext
from jobsvc.domain.jobs import RetryPolicy
from jobsvc.domain.values import JsonValue
from jobsvc.domain.versions import Version

if TYPE_CHECKING:
    import httpx

HANDLER_NAME = "jobsvc.http"
HANDLER_VERSION = "1.0.0"
SIGNATURE_HEADER = "Jobsvc-Signature"
# The flow-control key of a job's target: host:port of its URL (see jobsvc.domain.flow).
HOST_KEY = "jobsvc.http:{input.url|host}"
RETRYABLE_STATUSES = frozenset({408, 429})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers a job may not set: they belong to the connection, or to the signature.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", SIGNATURE_HEADER.lower()})

INPUT_SCHEMA: dict[str, JsonValue] = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"},
        "method": {"enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {"type": "string"},
        "json": {},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
        "signing_secret": {"type": "string"},
    },
    "required": ["url"],
    "not": {"required": ["body", "json"]},
    "additionalProperties": False,
}


@dataclass(frozen=True)
class HttpDeliveryConfig:
    """What the operator decides for every jobsvc.http job of this server."""

    # Serve jobsvc.http at all (--http-delivery).
    enabled: bool = False
    # Send to private, loopback and link-local addresses too (off: refused, non-retryable).
    allow_private_targets: bool = False
    # Named secrets for signing (signing_secret in the input names one): these, and those
    # of a TOML file of NAME = "SECRET" lines, read when the server starts.
    secrets: Mapping[str, str] = field(default_factory=dict)
    secrets_file: Path | None = None
    # A request's timeout unless its input gives a shorter one; also the cap on it.
    timeout: float = 30.0
    # The response body kept in the result; reading stops there (the result says truncated).
    max_response_bytes: int = 1024 * 1024
    max_redirects: int = 5
    # A Retry-After longer than this is cut to it.
    max_retry_after: float = 3600.0
    # Per target host (host:port of the URL): at most this many requests at once, and at
    # most host_rate starts in any host_rate_period seconds, on all replicas together.
    host_concurrency: int | None = None
    host_rate: int | None = None
    host_rate_period: float = 1.0
    # The default retry policy of jobsvc.http jobs (a job's own retry policy overrides it).
    retry_policy: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(initial_interval=1.0, backoff_coefficient=2.0, maximum_attempts=10)
    )

    def flow(self) -> FlowControl:
        """The per-host limits as flow control keyed by HOST_KEY (empty when none is set);
        ValueError naming the option when one is out of range."""
        flow = FlowControl(
            concurrency=None if self.host_concurrency is None else ConcurrencyLimit(self.host_concurrency, HOST_KEY),
            rate=None if self.host_rate is None else RateLimit(self.host_rate, self.host_rate_period, HOST_KEY),
        )
        if problems := flow.problems():
            part, problem = problems[0]
            option = {"concurrency.max_running": "--http-host-concurrency", "rate.max_starts": "--http-host-rate"}
            raise ValueError(f"{option.get(part, '--http-host-rate-period')} {problem}")
        return flow

    def all_secrets(self) -> dict[str, str]:
        """The secrets given and those of secrets_file (ValueError when it cannot be read)."""
        found = dict(self.secrets)
        if self.secrets_file is not None:
            try:
                document = tomllib.loads(self.secrets_file.read_text())
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ValueError(f"--http-secrets-file {self.secrets_file}: {exc}") from None
            found.update({str(name): str(value) for name, value in document.items()})
        return found


class TargetRefused(NonRetryableError):
    """The URL's host resolves to an address the operator has not allowed."""


class DeliveryRejected(NonRetryableError):
    """The receiver answered with a status no retry can fix (a 4xx other than 408 and 429)."""


class DeliveryTimedOut(Exception):
    """No complete response within the request's timeout: retried."""


class DeliveryDeferred(RetryLater):
    """The receiver answered 408, 429 or 5xx: retried, after its Retry-After if given."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The Jobsvc-Signature header value for a body sent at `timestamp` (what a receiver
    recomputes to verify it, comparing in constant time)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks to wait (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class HttpDelivery:
    """The jobsvc.http handler of one server, with its configuration and HTTP client."""

    def __init__(self, config: HttpDeliveryConfig) -> None:
        self.config = config
        self._secrets = config.all_secrets()
        # Imported here: a server without --http-delivery does not pay for httpx (memory, start).
        import httpx  # noqa: PLC0415

        # No redirects (followed by hand, each hop checked) and no proxies from the environment.
        self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self._timed_out = httpx.TimeoutException

    async def close(self) -> None:
        """Close the connections."""
        await self._client.aclose()

    def definition(self) -> HandlerDefinition:
        """The handler definition the server serves."""
        return HandlerDefinition(
            name=HANDLER_NAME,
            version=Version.parse(HANDLER_VERSION),
            func=self.deliver,
            description="Sends an HTTP request; retries 408, 429, 5xx and network errors (see README).",
            input_schema=INPUT_SCHEMA,
            module=__name__,
            retry_policy=self.config.retry_policy,
            flow=self.config.flow(),
        )

    async def deliver(self, ctx: JobContext, request: dict[str, Any]) -> dict[str, JsonValue]:
        """Send the request, following redirects up to the limit; the response on 2xx."""
        method = str(request.get("method", "POST"))
        headers = {k: v for k, v in dict(request.get("headers") or {}).items() if k.lower() not in _RESERVED_HEADERS}
        body = self._body(request, headers)
        timeout = min(float(request.get("timeout_seconds") or self.config.timeout), self.config.timeout)
        url = str(request["url"])
        started = time.monotonic()
        try:
            response, content, truncated, url, redirects = await asyncio.wait_for(
                self._follow(method, url, headers, body, timeout), timeout
            )
        except (TimeoutError, self._timed_out):
            # Not a TimeoutError: that one means the attempt's own timeout to the executor.
            raise DeliveryTimedOut(f"no complete response from {url} within {timeout:g}s") from None
        result: dict[str, JsonValue] = {
            "status": response.status_code,
            "headers": dict(response.headers),
            "body": content.decode(response.encoding or "utf-8", errors="replace"),
            "truncated": truncated,
            "url": url,
            "redirects": redirects,
            "timings": {"total_seconds": round(time.monotonic() - started, 6)},
        }
        self._judge(response, content)
        return result

    async def _follow(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> tuple[httpx.Response, bytes, bool, str, int]:
        """Send, and follow redirects up to the limit: the last response, its body, whether
        the body was cut, the last URL and the number of redirects followed."""
        for redirects in range(self.config.max_redirects + 1):
            response, content, truncated = await self._send(method, url, headers, body, timeout)
            location = response.headers.get("location")
            if response.status_code not in REDIRECT_STATUSES or location is None:
                return response, content, truncated, url, redirects
            url = urljoin(url, location)
            if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                method, body = "GET", b""  # as browsers and every client library do
        raise DeliveryRejected(f"more than {self.config.max_redirects} redirects (last to {url})")

    def _body(self, request: Mapping[str, Any], headers: dict[str, str]) -> bytes:
        if "json" in request:
            headers.setdefault("content-type", "application/json")
            body = json.dumps(request["json"], separators=(",", ":")).encode()
        else:
            body = str(request.get("body", "")).encode()
        secret_name = request.get("signing_secret")
        if secret_name is not None:
            secret = self._secrets.get(str(secret_name))
            if secret is None:
                raise NonRetryableError(f"signing secret {secret_name!r} is not configured on this server")
            headers[SIGNATURE_HEADER] = signature(secret, int(time.time()), body)
        return body

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> tuple[httpx.Response, bytes, bool]:
        """One request to the checked address of url's host; the body read up to the limit."""
        target, extensions, host_header = await self._pinned(url)
        request = self._client.build_request(
            method,
            target,
            headers={**headers, "host": host_header},
            content=body or None,
            timeout=timeout,
            extensions=extensions,
        )
        response = await self._client.send(request, stream=True)
        try:
            limit = self.config.max_response_bytes
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    return response, b"".join(chunks)[:limit], True
            return response, b"".join(chunks), False
        finally:
            await response.aclose()

    async def _pinned(self, url: str) -> tuple[str, dict[str, Any], str]:
        """url rewritten to an allowed address of its host, the TLS server name, and the Host header."""
        parts = urlsplit(url)
        host = parts.hostname
        if parts.scheme.lower() not in ("http", "https") or not host:
            raise NonRetryableError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in infos]
        allowed = [a for a in addresses if self.config.allow_private_targets or not _refused_address(a)]
        if not allowed:
            raise TargetRefused(
                f"{host} resolves to {', '.join(sorted(set(addresses)))}: private, loopback and other non-public "
                "addresses are refused (server option --http-allow-private-targets)"
            )
        address = allowed[0]
        shown = f"[{address}]" if ":" in address else address
        default_port = parts.port is None
        netloc = shown if default_port else f"{shown}:{port}"
        target = parts._replace(netloc=netloc).geturl()
        host_header = parts.netloc.rsplit("@", 1)[-1]
        return target, {"sni_hostname": host}, host_header

    def _judge(self, response: httpx.Response, content: bytes) -> None:
        """Raise unless the status is a success: retryable or not, as the module says."""
        status = response.status_code
        if 200 <= status < 300:
            return
        excerpt = content[:200].decode(errors="replace")
        if status in RETRYABLE_STATUSES or status >= 500:
            delay = retry_after_seconds(response.headers.get("retry-after"))
            if delay is not None:
                delay = min(delay, self.config.max_retry_after)
            raise DeliveryDeferred(f"HTTP {status}: {excerpt}", delay)
        raise DeliveryRejected(f"HTTP {status}: {excerpt}")
