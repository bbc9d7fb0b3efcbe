"""The ASGI application of the HTTP port: the Connect routes of every service, and the
dashboard's files (plain HTML, CSS and JavaScript shipped in the package: nothing is
loaded from anywhere else, so it works offline)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from importlib import resources

from google.protobuf.descriptor import ServiceDescriptor
from google.rpc import code_pb2

from jobsvc.api.status import MethodGuard, MethodHandling, method_handling
from jobsvc.api.telemetry import RpcTelemetry
from jobsvc.web import connect
from jobsvc.web.rpc import ConnectRoutes, Receive, Scope, Send, send_internal_error

log = logging.getLogger("jobsvc.http")

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The dashboard talks to this origin only; the policy makes the browser refuse anything else.
_SECURITY_HEADERS = [
    ("content-security-policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
]


def _dashboard_files() -> dict[str, tuple[str, bytes]]:
    """URL path -> (content type, bytes) of every file under jobsvc/web/static, read once."""
    files: dict[str, tuple[str, bytes]] = {}
    folder = resources.files("jobsvc.web") / "static"
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in _CONTENT_TYPES:
            files[f"/{entry.name}"] = (_CONTENT_TYPES[suffix], entry.read_bytes())
    files["/"] = files["/index.html"]
    return files


def connect_routes(
    services: Sequence[tuple[object, ServiceDescriptor]],
    guard: MethodGuard,
    telemetry: RpcTelemetry | None,
    max_message_bytes: int,
) -> ConnectRoutes:
    """A route for each method the HTTP port can serve: every unary and server-streaming one
    (client-streaming methods, AckService.Work, need gRPC)."""
    handlings: dict[str, MethodHandling] = {}
    for servicer, service in services:
        for method in service.methods:
            if method.client_streaming:
                continue
            handling = method_handling(
                servicer,
                method,
                guard,
                telemetry,
                max_request_bytes=max_message_bytes,
                max_response_bytes=max_message_bytes,
            )
            handlings[handling.path] = handling
    return ConnectRoutes(handlings, max_message_bytes)


class WebApp:
    """ASGI: POST /<service>/<method> is an RPC, GET / and its files are the dashboard."""

    def __init__(self, routes: ConnectRoutes) -> None:
        self._routes = routes
        self._files = _dashboard_files()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = False

        async def tracked(message: dict[str, object]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._route(scope, receive, tracked)
        except Exception:
            log.exception("unexpected error answering %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await send_internal_error(send, str(scope.get("path")))

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path in self._routes:
            await self._routes.serve(scope, receive, send)
        elif scope["method"] in ("GET", "HEAD") and path in self._files:
            content_type, body = self._files[path]
            headers = [("content-type", content_type), ("cache-control", "no-cache"), *_SECURITY_HEADERS]
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(k.encode(), v.encode()) for k, v in headers],
                }
            )
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
        else:
            await _not_found(send, path)


async def _not_found(send: Send, path: str) -> None:
    """404 with the protocol's error body: Connect clients read `unimplemented`, people a message."""
    status = connect.protocol_error(
        code_pb2.UNIMPLEMENTED,
        f"no method or page at {path}; methods are POST /jobsvc.v1.<Service>/<Method>",
        "NOT_FOUND",
    )
    body = json.dumps(connect.error_json(status)).encode()
    await send(
        {"type": "http.response.start", "status": 404, "headers": [(b"content-type", connect.UNARY_JSON.encode())]}
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to set up: the JobsvcServer owns every resource; just acknowledge."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
