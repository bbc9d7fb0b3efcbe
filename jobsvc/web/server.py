"""The HTTP port: hypercorn serving jobsvc.web.app.WebApp over HTTP/1.1 and HTTP/2 (h2c
by prior knowledge or upgrade; h2 over TLS by ALPN), started and stopped by JobsvcServer.

Hypercorn (an ASGI server of the Pallets family, kept up to date) because it speaks
HTTP/2 as well as HTTP/1.1 from one port, which Connect's streaming and browsers' many
parallel requests benefit from, and runs on the server's own event loop (uvloop in
production) beside grpc.aio and asyncpg.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config

from jobsvc.web.app import WebApp

log = logging.getLogger("jobsvc.http")


@dataclass(frozen=True)
class HttpTls:
    """The gRPC port's TLS files, used for the HTTP port too."""

    cert: Path
    key: Path
    client_ca: Path | None = None


class HttpServer:
    """One listening HTTP port; `start` binds it (port 0: any free port), `stop` drains it."""

    def __init__(self, app: WebApp, host: str, port: int, tls: HttpTls | None = None) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._tls = tls
        self._shutdown = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._config = Config()
        self.port = 0

    async def start(self) -> None:
        """Bind the port and serve; OSError when it cannot be bound."""
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # As the gRPC port: several processes may share one port (the benchmark's replicas).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self._host.strip("[]"), self._port))
            sock.listen(1024)
            self.port = sock.getsockname()[1]
            config = self._config
            # Bound here so that port 0 can be told; hypercorn takes its own copy of the socket.
            config.bind = [f"fd://{os.dup(sock.fileno())}"]
        config.accesslog = None
        config.errorlog = log
        config.h11_max_incomplete_size = 64 * 1024  # request line and headers
        if self._tls is not None:
            config.certfile = str(self._tls.cert)
            config.keyfile = str(self._tls.key)
            if self._tls.client_ca is not None:
                config.ca_certs = str(self._tls.client_ca)
                config.verify_mode = ssl.CERT_REQUIRED
        self._task = asyncio.create_task(
            serve(self._app, config, shutdown_trigger=self._shutdown.wait, mode="asgi"),  # type: ignore[arg-type]
            name="jobsvc-http",
        )
        await asyncio.sleep(0)

    async def stop(self, grace: float) -> None:
        """Refuse new connections; open requests (Calls, Streams) get `grace` seconds, then are cancelled."""
        if self._task is None:
            return
        self._config.graceful_timeout = grace
        self._shutdown.set()
        try:
            await self._task
        except Exception:
            log.exception("the HTTP port did not stop cleanly")
        self._task = None
