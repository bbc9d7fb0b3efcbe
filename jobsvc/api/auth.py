"""Bearer tokens with scopes: which caller may call which method.

Every RPC of jobsvc.v1 declares the one scope it needs in the proto
(`option (jobsvc.v1.required_scope) = SCOPE_SUBMIT;`). `Authenticator.guard` reads
it from the method descriptor when the service is registered and refuses a method
without one (deny by default), so checking a call costs one metadata scan, one
SHA-256 and a constant-time comparison per configured token.

The server keeps SHA-256 digests only; a token's value is never stored or logged,
its name (`ci-deployer`) may be.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import tomllib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor

from jobsvc.api.status import abort, status_for
from jobsvc.domain.errors import JobsvcError, PermissionDenied, Unauthenticated
from jobsvc.v1 import auth_pb2

log = logging.getLogger("jobsvc.auth")

# submit, call, stream, read, work, admin: the proto's Scope enum without its prefix.
SCOPE_NAMES: dict[int, str] = {
    value.number: value.name.removeprefix("SCOPE_").lower()
    for value in auth_pb2.Scope.DESCRIPTOR.values
    if value.number
}
SCOPES = frozenset(SCOPE_NAMES.values())
# What server reflection needs: any valid token.
ANY_SCOPE = ""
# The name of the token the call being served presented ("" while authentication is off),
# for servicers that record who did something (PauseService). A ContextVar, so each
# call's task sees its own: set by Authenticator.check before the method runs.
_CALLER: ContextVar[str] = ContextVar("jobsvc_caller", default="")


def caller() -> str:
    """The token name of the call being served; "" while authentication is off."""
    return _CALLER.get()


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

Context = grpc.aio.ServicerContext[Any, Any]
Behavior = Callable[[Any, Context], Any]


def required_scope(method: MethodDescriptor) -> str:
    """The scope a method declares with (jobsvc.v1.required_scope); ValueError when it declares none."""
    scope = SCOPE_NAMES.get(method.GetOptions().Extensions[auth_pb2.required_scope])
    if scope is None:
        raise ValueError(
            f"{method.full_name} declares no (jobsvc.v1.required_scope) option: every method must name its scope"
        )
    return scope


def token_digest(token: str) -> str:
    """The SHA-256 hex digest of a token: what the tokens file stores."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Token:
    """One configured token: its name (loggable), digest and scopes."""

    name: str
    digest: bytes
    scopes: frozenset[str]


def _token(name: str, digest: object, scopes: object, source: str) -> Token:
    where = f"{source}: token {name!r}"
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name):
        raise ValueError(f"{where}: a name is 1-64 letters, digits or _.@-")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest.lower()):
        raise ValueError(f"{where}: sha256 must be 64 hex digits (`jobsvc token hash` prints it)")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise ValueError(f"{where}: scopes must be a non-empty list of {sorted(SCOPES)}")
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise ValueError(f"{where}: unknown scope(s) {unknown}; known: {sorted(SCOPES)}")
    return Token(name, bytes.fromhex(digest), frozenset(scopes))


def tokens_from_toml(text: str, source: str = "tokens file") -> list[Token]:
    """Tokens from TOML: one `[tokens.NAME]` table per token, with `sha256` and `scopes`."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(document) - {"tokens"}
    if unknown:
        raise ValueError(f"{source}: unknown table(s) {sorted(unknown)}; tokens go in [tokens.NAME]")
    tokens = []
    for name, entry in document.get("tokens", {}).items():
        if not isinstance(entry, dict) or set(entry) - {"sha256", "scopes"}:
            raise ValueError(f"{source}: token {name!r} takes exactly the keys sha256 and scopes")
        tokens.append(_token(name, entry.get("sha256"), entry.get("scopes"), source))
    return tokens


def tokens_from_spec(text: str, source: str = "--auth-tokens") -> list[Token]:
    """Tokens from one line, for an environment variable: `NAME:SCOPE[,SCOPE...]:SHA256 ...`."""
    tokens = []
    for item in text.split():
        parts = item.split(":")
        if len(parts) != 3:
            raise ValueError(f"{source}: {parts[0]!r}: expected NAME:SCOPE[,SCOPE...]:SHA256")
        name, scopes, digest = parts
        tokens.append(_token(name, digest, scopes.split(","), source))
    return tokens


@dataclass(frozen=True)
class AuthConfig:
    """Where the server's tokens come from; none at all means authentication is off."""

    tokens_file: Path | None = None
    tokens: str = ""

    def load(self) -> list[Token]:
        """Read and validate every configured token."""
        tokens = tokens_from_spec(self.tokens) if self.tokens else []
        if self.tokens_file is not None:
            tokens += tokens_from_toml(self.tokens_file.read_text(), str(self.tokens_file))
        names = [t.name for t in tokens]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"token name(s) configured twice: {duplicates}")
        if len({t.digest for t in tokens}) != len(tokens):
            raise ValueError("two token names share one secret; give each its own token")
        return tokens


def _bearer(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    for key, value in metadata or ():
        if key == "authorization":
            text = value.decode(errors="replace") if isinstance(value, bytes) else value
            scheme, _, token = text.strip().partition(" ")
            # A header that is not a bearer token is a wrong token, not a missing one.
            return token.strip() if scheme.lower() == "bearer" else ""
    return None


class Authenticator:
    """Checks the bearer token of each call against the configured tokens."""

    def __init__(self, tokens: Sequence[Token]) -> None:
        self._tokens = tuple(tokens)

    @property
    def enabled(self) -> bool:
        """True when tokens are configured; otherwise every call is let through."""
        return bool(self._tokens)

    def describe(self) -> str:
        """Token names and scopes, for the start-up log (never a secret)."""
        return ", ".join(f"{t.name} ({' '.join(sorted(t.scopes))})" for t in self._tokens)

    def authenticate(self, metadata: Iterable[tuple[str, str | bytes]] | None, scope: str) -> str:
        """The name of the call's token if it may use `scope`; Unauthenticated or PermissionDenied if not."""
        presented = _bearer(metadata)
        if presented is None:
            raise Unauthenticated(
                "this method needs a token: send metadata 'authorization: Bearer <token>'", reason="TOKEN_MISSING"
            )
        digest = hashlib.sha256(presented.encode()).digest()
        found: Token | None = None
        # Every digest is compared, each in constant time: the time taken says nothing
        # about which token, or how much of one, matched.
        for token in self._tokens:
            if hmac.compare_digest(digest, token.digest):
                found = token
        if found is None:
            raise Unauthenticated("the token is not valid", reason="TOKEN_INVALID")
        if scope != ANY_SCOPE and scope not in found.scopes:
            raise PermissionDenied(
                f"token {found.name!r} lacks the scope {scope!r}",
                metadata={"required_scope": scope, "token_name": found.name},
            )
        return found.name

    async def check(self, context: Context, scope: str, path: str) -> None:
        """Abort the call with UNAUTHENTICATED or PERMISSION_DENIED unless its token allows `scope`."""
        try:
            _CALLER.set(self.authenticate(context.invocation_metadata(), scope))
        except JobsvcError as exc:
            log.info("refused %s from %s: %s (%s)", path, context.peer(), exc.reason, exc.message)
            await abort(context, status_for(exc))

    def guard(self, method: MethodDescriptor, behavior: Behavior) -> Behavior:
        """Wrap a method's behavior with the check of its declared scope; raises if it declares none."""
        return self.guard_path(
            f"/{method.containing_service.full_name}/{method.name}",
            required_scope(method),
            behavior,
            streaming=method.server_streaming,
        )

    def guard_path(self, path: str, scope: str, behavior: Behavior, *, streaming: bool) -> Behavior:
        """Wrap one method's behavior: unary returns a coroutine, streaming an async iterator."""
        if not self.enabled:
            return behavior
        if streaming:

            async def guarded_stream(request: Any, context: Context) -> AsyncIterator[Any]:
                await self.check(context, scope, path)
                async for response in behavior(request, context):
                    yield response

            return guarded_stream

        async def guarded(request: Any, context: Context) -> Any:
            await self.check(context, scope, path)
            return await behavior(request, context)

        return guarded
