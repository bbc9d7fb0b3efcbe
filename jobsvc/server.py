"""Composes a jobsvc process and owns its lifecycle.

Start order: database (embedded when no URL) -> migrations -> handler registry ->
LISTEN connection -> handler resources (lifespans) -> executor -> gRPC port ->
health SERVING.

Shutdown order (SIGTERM): health NOT_SERVING -> stop taking jobs -> in-flight jobs
get the grace period, the rest go back to the queue -> gRPC stops (open RPCs get
a moment to end) -> LISTEN and pool closed -> resources closed -> embedded
PostgreSQL stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from jobsvc.api import services
from jobsvc.api.ack import AckConfig, AckService
from jobsvc.api.app import AppConfig, JobsApp
from jobsvc.api.auth import ANY_SCOPE, AuthConfig, Authenticator
from jobsvc.api.status import add_service
from jobsvc.domain.errors import Unavailable
from jobsvc.domain.handlers import HandlerDefinition, HandlerModule, HandlerTable, load_module
from jobsvc.executor import Executor, ExecutorConfig
from jobsvc.maintenance import Maintenance, MaintenanceConfig
from jobsvc.store.embedded import EmbeddedPostgres
from jobsvc.store.notify import JobsDue, Listener
from jobsvc.store.postgres import PgStore, create_pool
from jobsvc.v1 import ack_service_pb2, call_service_pb2, job_service_pb2, stream_service_pb2, submit_service_pb2

log = logging.getLogger("jobsvc.server")

SERVICE_NAMES = (
    ack_service_pb2.DESCRIPTOR.services_by_name["AckService"].full_name,
    submit_service_pb2.DESCRIPTOR.services_by_name["SubmitService"].full_name,
    call_service_pb2.DESCRIPTOR.services_by_name["CallService"].full_name,
    stream_service_pb2.DESCRIPTOR.services_by_name["StreamService"].full_name,
    job_service_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,
)


def default_data_dir() -> Path:
    """Where the embedded PostgreSQL keeps its data when --data-dir is not given."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "jobsvc" / "pgdata"


@dataclass(frozen=True)
class TlsConfig:
    """TLS for the gRPC port: certificate and key files (PEM); with a client CA, mutual TLS."""

    cert: Path | None = None
    key: Path | None = None
    # When set, every client must present a certificate signed by this CA.
    client_ca: Path | None = None

    @property
    def enabled(self) -> bool:
        """True when the port speaks TLS."""
        return self.cert is not None

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials from the files; ValueError for an incomplete configuration."""
        if self.cert is None or self.key is None:
            raise ValueError("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=self.client_ca.read_bytes() if self.client_ca else None,
            require_client_auth=self.client_ca is not None,
        )

    def check(self) -> None:
        """Refuse half a configuration (a key or client CA without a certificate)."""
        if self.cert is None and (self.key is not None or self.client_ca is not None):
            raise ValueError("--tls-key and --tls-client-ca need --tls-cert")


@dataclass
class ServerConfig:
    """Everything `jobsvc serve` can be told."""

    host: str = "0.0.0.0"
    port: int = 50051
    database_url: str | None = None
    data_dir: Path | None = None
    handler_modules: list[str] = field(default_factory=list)
    # Handler definitions given directly (tests, embedding in another program).
    handlers: list[HandlerDefinition] = field(default_factory=list)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    app: AppConfig = field(default_factory=AppConfig)
    ack: AckConfig = field(default_factory=AckConfig)
    maintenance: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    shutdown_grace: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    pool_size: int = 20
    health_interval: float = 5.0
    tls: TlsConfig = field(default_factory=TlsConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    # Lease owner and executor name: unique per server instance, readable in events.
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}")


class JobsvcServer:
    """One jobsvc process: gRPC API, executors and their shared resources."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.port = 0
        self.database_url = config.database_url
        self.table = HandlerTable([])
        self._stack = contextlib.AsyncExitStack()
        self._embedded: EmbeddedPostgres | None = None
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self._executor: Executor | None = None
        self._maintenance: Maintenance | None = None
        self.ack: AckService | None = None
        self._health_task: asyncio.Task[None] | None = None
        self._draining = False
        self._stopped = asyncio.Event()

    @property
    def address(self) -> str:
        """host:port the server listens on (the real port when 0 was asked for)."""
        host = self.config.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    async def start(self) -> None:
        """Bring everything up; on failure, undo what was started and re-raise."""
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise

    async def _start(self) -> None:
        cfg = self.config
        # Configuration mistakes first: before a database is started for nothing.
        cfg.tls.check()
        authenticator = Authenticator(cfg.auth.load())
        modules = [load_module(name) for name in cfg.handler_modules]
        self.table = HandlerTable([*cfg.handlers, *(d for m in modules for d in m.handlers)])
        if self.database_url is None:
            self.database_url = await self._start_embedded(cfg.data_dir or default_data_dir())
        pool = await create_pool(self.database_url, max_size=cfg.pool_size)
        self._stack.push_async_callback(pool.close)
        store = PgStore(pool)
        self._stack.push_async_callback(store.notifier.close)
        await store.migrate()
        await store.handler_register([d.spec() for d in self.table])
        listener = Listener(self.database_url)
        await listener.start()
        self._stack.push_async_callback(listener.close)
        store.notifier.add_local(listener.notify_local)
        resources = await self._enter_lifespans(modules)
        jobs_due = JobsDue(store, listener)
        self._executor = Executor(
            store,
            listener,
            self.table,
            owner=cfg.name,
            jobs_due=jobs_due.wake,
            resources=resources,
            config=cfg.executor,
        )
        app = JobsApp(store, listener, jobs_due, config=cfg.app)
        self.ack = AckService(app, listener, cfg.ack)
        await self._start_grpc(app, authenticator)
        await self._executor.start()
        self._maintenance = Maintenance(store, cfg.maintenance, on_requeued=jobs_due.wake)
        self._maintenance.start()
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        self._health_task = asyncio.create_task(self._watch_database(store), name="jobsvc-health")

    async def _start_embedded(self, data_dir: Path) -> str:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._embedded = EmbeddedPostgres(data_dir, adopt=True)
        # Registered before start: a start that fails half-way is cleaned up too.
        self._stack.callback(self._embedded.stop)
        dsn = await asyncio.to_thread(self._embedded.start)
        log.info("embedded PostgreSQL running in %s", data_dir)
        return dsn

    async def _enter_lifespans(self, modules: list[HandlerModule]) -> Mapping[str, Any]:
        resources: dict[str, Any] = {}
        for module in modules:
            if module.lifespan is not None:
                provided = await self._stack.enter_async_context(module.lifespan())
                resources.update(provided or {})
        return resources

    async def _start_grpc(self, app: JobsApp, authenticator: Authenticator) -> None:
        limit = self.config.max_message_bytes
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                ("grpc.so_reuseport", 1),
            ]
        )
        for servicer, module in (
            (services.SubmitService(app), submit_service_pb2),
            (services.CallService(app), call_service_pb2),
            (services.StreamService(app), stream_service_pb2),
            (services.JobService(app), job_service_pb2),
            (self.ack, ack_service_pb2),
        ):
            add_service(
                server, servicer, module.DESCRIPTOR.services_by_name[type(servicer).__name__], authenticator.guard
            )
        # Health stays open: probes carry no token, and it reveals nothing but a status.
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        _add_reflection(server, authenticator)
        address = f"{_bind_host(self.config.host)}:{self.config.port}"
        tls = self.config.tls
        if tls.enabled:
            self.port = server.add_secure_port(address, tls.credentials())
        else:
            self.port = server.add_insecure_port(address)
        _log_security(tls, authenticator)
        if self.port == 0:
            raise OSError(f"cannot listen on {self.config.host}:{self.config.port}")
        await server.start()
        self._server = server

    async def _set_health(self, status: int) -> None:
        for name in ("", *SERVICE_NAMES):
            await self._health.set(name, status)

    async def _watch_database(self, store: PgStore) -> None:
        """NOT_SERVING while the database is unreachable, so balancers route elsewhere."""
        serving = True
        while not self._draining:
            await asyncio.sleep(self.config.health_interval)
            try:
                await asyncio.wait_for(store.ping(), self.config.health_interval)
                ok = True
            except (Unavailable, TimeoutError, asyncpg.PostgresError):
                ok = False
            if ok != serving and not self._draining:
                serving = ok
                log.warning(
                    "database %s; health %s", "reachable" if ok else "unreachable", "SERVING" if ok else "NOT_SERVING"
                )
                await self._set_health(
                    health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
                )

    async def stop(self, grace: float | None = None) -> None:
        """Drain and stop in the documented order; safe to call twice."""
        if self._draining:
            await self._stopped.wait()
            return
        self._draining = True
        grace = self.config.shutdown_grace if grace is None else grace
        try:
            await self._health.enter_graceful_shutdown()
            if self._health_task is not None:
                self._health_task.cancel()
            if self._maintenance is not None:
                await self._maintenance.stop()
            if self._executor is not None:
                await self._executor.stop(grace)
            if self._server is not None:
                # Waiting Calls and Streams end now; their jobs carry on elsewhere.
                await self._server.stop(min(grace, 2.0))
            await self._stack.aclose()
        finally:
            self._stopped.set()

    async def wait_stopped(self) -> None:
        """Return once stop() has finished."""
        await self._stopped.wait()


def _add_reflection(server: grpc.aio.Server, authenticator: Authenticator) -> None:
    """Server reflection, which needs a valid token (any scope) when authentication is on."""
    servicer = reflection.aio.ReflectionServicer((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME))
    method = "ServerReflectionInfo"
    handler = grpc.stream_stream_rpc_method_handler(
        authenticator.guard_path(
            f"/{reflection.SERVICE_NAME}/{method}", ANY_SCOPE, servicer.ServerReflectionInfo, streaming=True
        ),
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(reflection.SERVICE_NAME, {method: handler}),))


def _log_security(tls: TlsConfig, authenticator: Authenticator) -> None:
    if tls.enabled:
        log.info("TLS on%s", " (client certificates required)" if tls.client_ca else "")
    if not authenticator.enabled:
        log.warning("authentication is off: anyone who reaches the port may call every method (see --auth-file)")
        return
    log.info("authentication on; tokens: %s", authenticator.describe())
    if not tls.enabled:
        log.warning("tokens travel in plaintext: the port has no TLS (fine only behind a TLS-terminating proxy)")


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
