"""Composes a jobsvc process and owns its lifecycle.

Start order: database (embedded when no URL) -> migrations -> handler registry ->
LISTEN connection -> handler resources (lifespans) -> executor -> gRPC port ->
health SERVING. Every background task (LISTEN, claim, heartbeat, maintenance,
schedules) is run by one Supervisor, which survives whatever a task raises and tells
health which task cannot recover.

Shutdown order (SIGTERM): health NOT_SERVING on every service -> the drain delay
(everything still served while balancers notice) -> the gRPC port stops taking new
RPCs and, at the same time, executors stop taking jobs; in-flight RPCs and jobs get
the grace period, unfinished jobs go back to the queue -> open RPCs get a moment
more -> LISTEN and pool closed -> resources closed -> embedded PostgreSQL stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry import trace

from jobsvc.api import services
from jobsvc.api.ack import AckService
from jobsvc.api.auth import AuthConfig, Authenticator
from jobsvc.api.reflection import add_reflection
from jobsvc.api.stats import StatsService
from jobsvc.api.status import add_service
from jobsvc.api.telemetry import RpcTelemetry
from jobsvc.api.worker_directory import WorkerDirectoryService
from jobsvc.api.workflows import WorkflowService
from jobsvc.app.children import ChildrenApp
from jobsvc.app.dispatch import LocalSlots, OutcomeKeeping, Settler
from jobsvc.app.jobs import AppConfig, JobsApp
from jobsvc.app.maintenance import Maintenance, MaintenanceConfig
from jobsvc.app.operations import Operations
from jobsvc.app.pauses import Pauses
from jobsvc.app.schedules import Schedules
from jobsvc.app.stats import Stats
from jobsvc.app.workers import RemoteWork, RemoteWorkConfig
from jobsvc.app.workflows import WorkflowsApp
from jobsvc.domain.errors import JobsvcError
from jobsvc.domain.handlers import HandlerDefinition, HandlerModule, HandlerTable, load_module
from jobsvc.domain.jobs import LabelDepth, QueueStats
from jobsvc.domain.limits import DEFAULT_MAX_MESSAGE_BYTES, PayloadLimits
from jobsvc.executor import Executor, ExecutorConfig
from jobsvc.handlers.http_delivery import HttpDelivery, HttpDeliveryConfig
from jobsvc.observability import ObservabilityConfig
from jobsvc.observability.metrics import Metrics, PrometheusMetrics
from jobsvc.observability.tracing import Tracing, build_provider
from jobsvc.store.connection import POOLERS, HealthProbe
from jobsvc.store.embedded import EmbeddedPostgres
from jobsvc.store.notify import EventNotifier, Listener, PgNotifications
from jobsvc.store.postgres import PgStore, create_pool
from jobsvc.supervisor import Supervisor
from jobsvc.v1 import (
    ack_service_pb2,
    call_service_pb2,
    job_service_pb2,
    operation_service_pb2,
    pause_service_pb2,
    schedule_service_pb2,
    stats_service_pb2,
    stream_service_pb2,
    submit_service_pb2,
    worker_directory_pb2,
    workflow_service_pb2,
)

if TYPE_CHECKING:
    from jobsvc.web.server import HttpServer

log = logging.getLogger("jobsvc.server")
T = TypeVar("T")

SERVICE_NAMES = (
    ack_service_pb2.DESCRIPTOR.services_by_name["AckService"].full_name,
    submit_service_pb2.DESCRIPTOR.services_by_name["SubmitService"].full_name,
    call_service_pb2.DESCRIPTOR.services_by_name["CallService"].full_name,
    stream_service_pb2.DESCRIPTOR.services_by_name["StreamService"].full_name,
    job_service_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,
    schedule_service_pb2.DESCRIPTOR.services_by_name["ScheduleService"].full_name,
    pause_service_pb2.DESCRIPTOR.services_by_name["PauseService"].full_name,
    operation_service_pb2.DESCRIPTOR.services_by_name["OperationService"].full_name,
    stats_service_pb2.DESCRIPTOR.services_by_name["StatsService"].full_name,
    workflow_service_pb2.DESCRIPTOR.services_by_name["WorkflowService"].full_name,
    worker_directory_pb2.DESCRIPTOR.services_by_name["WorkerDirectoryService"].full_name,
)


# A health "service" for liveness probes: SERVING from start to shutdown, whatever the
# database does (restarting replicas does not bring a database back).
LIVENESS_SERVICE = "liveness"


def default_data_dir() -> Path:
    """Where the embedded PostgreSQL keeps its data when --data-dir is not given."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "jobsvc" / "pgdata"


DEFAULT_DRAIN_DELAY = 5.0
# `jobsvc serve --http-port`: the API over HTTP and the dashboard (0 turns it off).
DEFAULT_HTTP_PORT = 8080
# Open RPCs get this long after the grace period before they are cancelled.
RPC_GRACE_MARGIN = 2.0


@dataclass(frozen=True)
class ConnectionConfig:
    """How the gRPC port treats connections: production defaults for running behind a balancer.

    Times are in seconds; 0 turns a limit off (where noted).
    """

    # Server pings an idle connection after keepalive_time and drops it when no
    # answer comes within keepalive_timeout: dead peers and silently dropped
    # (NAT, balancer idle timeout) connections are noticed.
    keepalive_time: float = 60.0
    keepalive_timeout: float = 20.0
    # Clients may ping while they have no RPC open (workers, idle channels) ...
    keepalive_permit_without_calls: bool = True
    # ... but not more often than this; a client that does gets GOAWAY too_many_pings.
    min_ping_interval: float = 10.0
    # GOAWAY after this long (grpc adds +-10% jitter), so clients behind a layer-4
    # balancer reconnect and spread over new replicas; 0: never.
    max_connection_age: float = 300.0
    # RPCs open at GOAWAY get this long to finish before the connection is closed.
    max_connection_age_grace: float = 300.0
    # Requests larger than this are refused with RESOURCE_EXHAUSTED; also the largest response.
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # The largest input, result or partial output of a job (encoded); None: 7/16 of
    # max_message_bytes, the most for which a job's every response fits (jobsvc.domain.limits).
    max_payload_bytes: int | None = None
    # Streams (RPCs) one connection may have open at once; more wait in the client; 0: grpc's default.
    max_concurrent_streams: int = 1000

    @property
    def limits(self) -> PayloadLimits:
        """The payload limits these settings give."""
        return PayloadLimits(self.max_message_bytes, self.max_payload_bytes)

    def check(self) -> None:
        """Refuse limits that do not fit together (ValueError)."""
        problems = self.limits.problems()
        if problems:
            raise ValueError(problems[0])

    def grpc_options(self) -> list[tuple[str, int]]:
        """The grpc channel arguments of these settings."""
        # The core refuses requests above twice the limit before they are read into
        # memory; between the limit and that ceiling add_service answers with a detail
        # that names the limit (grpc's own answer has none).
        options = [
            ("grpc.keepalive_time_ms", _ms(self.keepalive_time)),
            ("grpc.keepalive_timeout_ms", _ms(self.keepalive_timeout)),
            ("grpc.keepalive_permit_without_calls", int(self.keepalive_permit_without_calls)),
            ("grpc.http2.min_ping_interval_without_data_ms", _ms(self.min_ping_interval)),
            ("grpc.max_receive_message_length", 2 * self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
        ]
        if self.max_connection_age > 0:
            options.append(("grpc.max_connection_age_ms", _ms(self.max_connection_age)))
            options.append(("grpc.max_connection_age_grace_ms", _ms(self.max_connection_age_grace)))
        if self.max_concurrent_streams > 0:
            options.append(("grpc.max_concurrent_streams", self.max_concurrent_streams))
        return options


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


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
    # "transaction": database_url goes through a transaction-pooling PgBouncer (see
    # store.connection.POOLERS); then LISTEN needs listen_database_url.
    database_pooler: str = "none"
    # The LISTEN connection's URL, direct to PostgreSQL or through a session-mode pool
    # (a transaction pooler would hand its session to other clients); None: database_url.
    listen_database_url: str | None = None
    data_dir: Path | None = None
    handler_modules: list[str] = field(default_factory=list)
    # Handler definitions given directly (tests, embedding in another program).
    handlers: list[HandlerDefinition] = field(default_factory=list)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    app: AppConfig = field(default_factory=AppConfig)
    ack: RemoteWorkConfig = field(default_factory=RemoteWorkConfig)
    maintenance: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    observability: ObservabilityConfig = field(default_factory=ObservabilityConfig)
    shutdown_grace: float = 10.0
    # Seconds between health NOT_SERVING and refusing new RPCs, so that balancers
    # notice first. The CLI defaults to DEFAULT_DRAIN_DELAY; an embedded server
    # (tests, benchmarks) has no balancer in front by default.
    drain_delay: float = 0.0
    connection: ConnectionConfig = field(default_factory=ConnectionConfig)
    pool_size: int = 20
    health_interval: float = 5.0
    # A health check, or a request waiting for a pool connection, gives the database this
    # long; then it counts as unreachable: health NOT_SERVING and requests UNAVAILABLE at
    # once (not at their deadline) until a check succeeds again.
    database_timeout: float = 2.0
    # A background task failing this long in a row turns health NOT_SERVING.
    task_unhealthy_after: float = 10.0
    tls: TlsConfig = field(default_factory=TlsConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    # Seconds PauseHandler and PauseFlowKey wait before answering, so that every replica
    # obeys by then (0: answer at once; replicas obey within about a second).
    pause_propagation: float = Pauses.PROPAGATION
    # The built-in jobsvc.http handler (HTTP delivery): served when enabled (--http-delivery).
    http_delivery: HttpDeliveryConfig = field(default_factory=HttpDeliveryConfig)
    # The API over HTTP (Connect: JSON or binary protobuf) and the dashboard, on this port of
    # `host`: None turns it off (an embedded server's default; the CLI's is DEFAULT_HTTP_PORT),
    # 0 takes any free port.
    http_port: int | None = None
    # Lease owner and executor name: unique per server instance, readable in events.
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}")

    def behind_transaction_pooler(self) -> bool:
        """Whether database_url goes through a transaction pooler; refuses (ValueError) a
        pooler setting jobsvc cannot work with, saying what to set instead."""
        if self.database_pooler not in POOLERS:
            raise ValueError(f"--database-pooler must be one of {', '.join(POOLERS)}, not {self.database_pooler!r}")
        if self.database_pooler != "transaction":
            return False
        if self.listen_database_url is None:
            raise ValueError(
                "--database-pooler transaction needs --listen-database-url: jobsvc's LISTEN connection "
                "(what wakes Calls, Streams and claim loops at once, and delivers cancel requests) must "
                "keep one PostgreSQL session, and a transaction pooler hands the session to other "
                "clients after each transaction; give a URL of the same database that bypasses the "
                "pooler, or goes through a pool in session mode"
            )
        return True


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
        self._http: HttpServer | None = None
        # The port the API over HTTP and the dashboard listen on (None when off).
        self.http_port: int | None = None
        self._health = health.aio.HealthServicer()
        self._executor: Executor | None = None
        self._maintenance: Maintenance | None = None
        self._schedules: Schedules | None = None
        self.ack: AckService | None = None
        self.metrics: Metrics = Metrics()
        # The port /metrics is served on (None when metrics are off).
        self.metrics_port: int | None = None
        self.tracing: Tracing | None = None
        self._health_task: asyncio.Task[None] | None = None
        self.supervisor = Supervisor(unhealthy_after=config.task_unhealthy_after)
        self._listener: Listener | None = None
        self._draining = False
        self._drain_cut = asyncio.Event()
        self._stopped = asyncio.Event()

    @property
    def address(self) -> str:
        """host:port the server listens on (the real port when 0 was asked for)."""
        host = self.config.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def _built_in(self) -> list[HandlerDefinition]:
        """The built-in handlers the configuration turns on. Off by default: jobsvc.http
        sends requests wherever its jobs say, which an operator should choose to allow."""
        if not self.config.http_delivery.enabled:
            return []
        delivery = HttpDelivery(self.config.http_delivery)
        self._stack.push_async_callback(delivery.close)
        return [delivery.definition()]

    async def start(self) -> None:
        """Bring everything up; on failure, undo what was started and re-raise."""
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise

    async def _start(self) -> None:
        cfg = self.config
        self._start_observing()  # first: a tracing exporter that cannot be had fails the start at once
        # Configuration mistakes first: before a database is started for nothing.
        cfg.tls.check()
        cfg.connection.check()
        pooled = cfg.behind_transaction_pooler()
        limits = cfg.connection.limits
        authenticator = Authenticator(cfg.auth.load())
        modules = [load_module(name) for name in cfg.handler_modules]
        self.table = HandlerTable([*cfg.handlers, *(d for m in modules for d in m.handlers), *self._built_in()])
        if self.database_url is None:
            self.database_url = await self._start_embedded(cfg.data_dir or default_data_dir())
        pool, claim_pool = await self._open_pools(self.database_url, pooled)
        # The LISTEN side of notifications; it connects at listener.start() below. The store
        # wakes this process's waiters through it at once (EventNotifier) and its claim
        # loops when a full rate window opens (jobs_due: other replicas see the same window).
        self._listener = listener = Listener(cfg.listen_database_url or self.database_url, self.supervisor)
        notifier = EventNotifier(pool, local=listener.notify_local)
        store = PgStore(pool, notifier, claim_pool=claim_pool, jobs_due=listener.jobs_due)
        store.acquire_timeout = cfg.database_timeout
        self._stack.push_async_callback(notifier.close)
        await store.migrate()
        await store.handler_register([d.spec() for d in self.table])
        # Last on the way out: every background task stopped (those stopped in order before).
        self._stack.push_async_callback(self.supervisor.stop_all)
        await listener.start()
        self._stack.push_async_callback(listener.close)
        # The storage port's notifications: what wakes a waiting Call or Stream
        # (subscribe), a claim loop (due_signal, jobs_due) and a running job's cancel.
        notifications = PgNotifications(listener, pool)
        resources = await self._enter_lifespans(modules)
        metrics, tracing = self.metrics, self.tracing
        # One settle path for the executor, worker sessions and the unary Ack/Nack/Reject.
        # Outcomes whose write failed mid-outage are kept and written once health finds the
        # database back (and tried meanwhile): a job that finished is not run again.
        keeping = OutcomeKeeping()
        self.supervisor.wake_on_retry(keeping.retry_now)
        settler = Settler(store, metrics, notifications.jobs_due, keeping=keeping)
        pauses, operations = await self._start_operations(store, listener, notifications)
        # The lanes of this process (executor, worker sessions) that a Call's job can start on
        # at once; they leave paused versions out.
        local = LocalSlots(pauses)
        app = JobsApp(
            store, notifications, config=cfg.app, metrics=metrics, tracing=tracing, limits=limits, local=local
        )
        # Child jobs and durable sleep of running handlers, in-process and on remote workers.
        children = ChildrenApp(app, store)
        self._executor = Executor(
            store,
            notifications,
            self.table,
            owner=cfg.name,
            settler=settler,
            supervisor=self.supervisor,
            resources=resources,
            config=cfg.executor,
            metrics=metrics,
            tracing=tracing,
            limits=limits,
            local=local,
            children=children,
        )
        work = RemoteWork(
            store, notifications, settler, metrics, config=cfg.ack, local=local, replica=cfg.name, children=children
        )
        self.ack = AckService(work, limits, metrics)
        self._schedules = schedules = Schedules(app, store, self.supervisor, paused=lambda: pauses.current)
        await schedules.declare([s for d in self.table for s in d.declared_schedules()])
        # Every jobsvc.v1 servicer: what the gRPC and HTTP ports serve.
        served = _described(
            (services.SubmitService(app), submit_service_pb2),
            (services.CallService(app), call_service_pb2),
            (services.StreamService(app), stream_service_pb2),
            (services.JobService(app), job_service_pb2),
            (services.ScheduleService(schedules), schedule_service_pb2),
            (StatsService(Stats(store)), stats_service_pb2),
            (WorkflowService(WorkflowsApp(app, store), limits.error_budget), workflow_service_pb2),
            (services.PauseService(pauses), pause_service_pb2),
            (services.OperationService(operations), operation_service_pb2),
            (WorkerDirectoryService(work.directory), worker_directory_pb2),
            (self.ack, ack_service_pb2),
        )
        await self._start_grpc(served, authenticator)
        await self._executor.start()
        self._maintenance = Maintenance(
            store,
            cfg.maintenance,
            jobs_due=notifications.jobs_due,
            supervisor=self.supervisor,
            metrics=metrics,
            quiet_for=notifications.quiet_for,
        )
        self._maintenance.start()
        schedules.start()
        self._serve_metrics(store)
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        await self._health.set(LIVENESS_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        probe = HealthProbe(self.database_url, pooled=pooled)
        self._stack.push_async_callback(probe.close)
        self._health_task = asyncio.create_task(self._watch_health(store, probe), name="jobsvc-health")

    async def _open_pools(self, url: str, pooled: bool) -> tuple[asyncpg.Pool, asyncpg.Pool | None]:
        """The pool of every query, and the claim pool (its planner settings are session
        settings: behind a transaction pooler, claims set them per transaction instead)."""
        pool = await create_pool(url, max_size=self.config.pool_size, pooled=pooled)
        self._stack.push_async_callback(pool.close)
        if pooled:
            log.info("database through a transaction pooler; LISTEN on --listen-database-url")
            return pool, None
        claim_pool = await create_pool(url, min_size=1, max_size=4, for_claims=True)
        self._stack.push_async_callback(claim_pool.close)
        return pool, claim_pool

    async def _start_operations(
        self, store: PgStore, listener: Listener, notifications: PgNotifications
    ) -> tuple[Pauses, Operations]:
        """The pauses in force, kept fresh on this replica, and the bulk operations this
        replica runs its share of, both in the background."""
        pauses = Pauses(store, listener.jobs_due, propagation=self.config.pause_propagation)
        await pauses.start(notifications, self.supervisor)
        operations = Operations(
            store,
            self.config.name,
            notifications.jobs_due,
            poll_interval=self.config.maintenance.operation_takeover_interval,
        )
        operations.start(self.supervisor)
        return pauses, operations

    def _start_observing(self) -> None:
        """Metrics registry and tracer provider of this server (none when off)."""
        obs = self.config.observability
        if obs.metrics_port is not None:
            self.metrics = PrometheusMetrics()
        if obs.tracer_provider is not None:
            self.tracing = Tracing(obs.tracer_provider)
        elif obs.trace_exporter != "none":
            provider = build_provider(obs.trace_exporter, obs.trace_endpoint)
            # Global too, so that handlers' own spans are exported (set once per process).
            trace.set_tracer_provider(provider)
            self.tracing = Tracing(provider)
            self._stack.callback(self.tracing.shutdown)

    def _serve_metrics(self, store: PgStore) -> None:
        metrics = self.metrics
        obs = self.config.observability
        if not isinstance(metrics, PrometheusMetrics) or obs.metrics_port is None:
            return
        ack = self.ack
        if ack is not None:
            metrics.watch_workers(lambda: ack.session_count)
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()

        def on_loop(query: Coroutine[Any, Any, T]) -> T:
            # Called by the HTTP server's thread: the query runs on the event loop.
            if threading.get_ident() == loop_thread:
                query.close()
                raise RuntimeError("scrape /metrics from another thread than the server's event loop")
            return asyncio.run_coroutine_threadsafe(query, loop).result(timeout=5)

        def read_queue() -> list[QueueStats]:
            return on_loop(store.job_queue_stats())

        def read_label_depths() -> list[LabelDepth]:
            return on_loop(store.job_queue_depth_by_label(obs.metric_labels, obs.metric_label_values))

        metrics.watch_queue(read_queue, read_labels=read_label_depths if obs.metric_labels else None)
        self.metrics_port = metrics.serve(obs.metrics_host, obs.metrics_port)
        # shutdown() waits for the HTTP thread's poll (up to 0.5 s): not on the event loop.
        self._stack.push_async_callback(asyncio.to_thread, metrics.close)
        log.info("metrics on http://%s:%d/metrics", obs.metrics_host, self.metrics_port)

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

    async def _start_http(self, served: list[tuple[object, ServiceDescriptor]], authenticator: Authenticator) -> None:
        """The API over HTTP and the dashboard, when --http-port is set."""
        cfg = self.config
        if cfg.http_port is None:
            return
        # Imported here: a server without --http-port does not load the HTTP stack.
        from jobsvc.web.app import WebApp, connect_routes  # noqa: PLC0415
        from jobsvc.web.server import HttpServer, HttpTls  # noqa: PLC0415

        routes = connect_routes(
            served, authenticator.guard, RpcTelemetry(self.metrics, self.tracing), cfg.connection.max_message_bytes
        )
        tls = HttpTls(cfg.tls.cert, cfg.tls.key, cfg.tls.client_ca) if cfg.tls.cert and cfg.tls.key else None
        http = HttpServer(WebApp(routes), _bind_host(cfg.host), cfg.http_port, tls)
        await http.start()
        # Undone by stop() in its order; the stack's copy covers a start that fails later on.
        self._stack.push_async_callback(http.stop, 0.0)
        self._http, self.http_port = http, http.port
        log.info("API over HTTP and the dashboard on %s://%s:%d/", "https" if tls else "http", cfg.host, http.port)

    async def _start_grpc(self, served: list[tuple[object, ServiceDescriptor]], authenticator: Authenticator) -> None:
        connection = self.config.connection
        server = grpc.aio.server(options=[*connection.grpc_options(), ("grpc.so_reuseport", 1)])
        for servicer, descriptor in served:
            add_service(
                server,
                servicer,
                descriptor,
                authenticator.guard,
                RpcTelemetry(self.metrics, self.tracing),
                max_request_bytes=connection.max_message_bytes,
                max_response_bytes=connection.max_message_bytes,
            )
        # Health stays open: probes carry no token, and it reveals nothing but a status.
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        add_reflection(server, (*SERVICE_NAMES, health.SERVICE_NAME), authenticator)
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
        await self._start_http(served, authenticator)

    async def _set_health(self, status: int) -> None:
        for name in ("", *SERVICE_NAMES):
            await self._health.set(name, status)

    async def _watch_health(self, store: PgStore, probe: HealthProbe) -> None:
        """NOT_SERVING while the database is unreachable or read-only, or a background task
        cannot recover, so balancers route elsewhere; SERVING again once all is well."""
        serving = True
        while not self._draining:
            await asyncio.sleep(self.config.health_interval)
            problems = await self._health_problems(store, probe)
            if (not problems) != serving and not self._draining:
                serving = not problems
                if serving:
                    log.warning("health SERVING: the database and every background task are well again")
                else:
                    log.error("health NOT_SERVING: %s", "; ".join(problems))
                await self._set_health(
                    health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
                )

    async def _health_problems(self, store: PgStore, probe: HealthProbe) -> list[str]:
        """What keeps this process from serving now (empty: nothing)."""
        database: JobsvcError | None = None
        try:
            await probe.check(self.config.database_timeout)
        except JobsvcError as exc:
            database = exc
        reachable_again = database is None and store.unreachable
        await store.mark_unreachable(database)
        if reachable_again:
            self.supervisor.retry_now()  # tasks backing off retry at once, not up to 5 s later
            if self._listener is not None:
                # Notifications sent during the outage may be lost on a connection that looked open.
                self._listener.reconnect()
        problems = [f"database: {database.message}"] if database else []
        return problems + self.supervisor.problems()

    async def stop(self, grace: float | None = None, drain_delay: float | None = None) -> None:
        """Drain and stop in the documented order; safe to call twice."""
        if self._draining:
            await self._stopped.wait()
            return
        self._draining = True
        grace = self.config.shutdown_grace if grace is None else grace
        drain_delay = self.config.drain_delay if drain_delay is None else drain_delay
        try:
            await self._health.enter_graceful_shutdown()
            if self._health_task is not None:
                self._health_task.cancel()
            if drain_delay > 0:
                # Still serving everything: balancers see NOT_SERVING and stop sending first.
                log.info("health NOT_SERVING; taking new RPCs for %.1fs more while balancers notice", drain_delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drain_cut.wait(), drain_delay)
            if self._maintenance is not None:
                await self._maintenance.stop()
            if self._schedules is not None:
                await self._schedules.stop()
            # New RPCs are refused from here; open ones (Calls waiting for jobs run
            # here or elsewhere) get the grace period while the executor drains.
            rpcs = None
            if self._server is not None:
                rpcs = asyncio.create_task(self._server.stop(grace + RPC_GRACE_MARGIN), name="jobsvc-grpc-stop")
                await asyncio.sleep(0)  # the port refuses new RPCs from the task's first step
            http = None
            if self._http is not None:
                # The HTTP port likewise: open Calls and Streams get the same grace.
                http = asyncio.create_task(self._http.stop(grace + RPC_GRACE_MARGIN), name="jobsvc-http-stop")
            if self.ack is not None:
                # Worker sessions never end by themselves: hand them over to other replicas now.
                self.ack.end_sessions()
            if self._executor is not None:
                await self._executor.stop(grace)
            if rpcs is not None:
                await rpcs
            if http is not None:
                await http
            await self._stack.aclose()
        finally:
            self._stopped.set()

    def cut_drain_delay(self) -> None:
        """End the drain delay of a stop in progress now (a second signal, an impatient operator)."""
        self._drain_cut.set()

    async def wait_stopped(self) -> None:
        """Return once stop() has finished."""
        await self._stopped.wait()


def _log_security(tls: TlsConfig, authenticator: Authenticator) -> None:
    if tls.enabled:
        log.info("TLS on%s", " (client certificates required)" if tls.client_ca else "")
    if not authenticator.enabled:
        log.warning("authentication is off: anyone who reaches the port may call every method (see --auth-file)")
        return
    log.info("authentication on; tokens: %s", authenticator.describe())
    if not tls.enabled:
        log.warning("tokens travel in plaintext: the port has no TLS (fine only behind a TLS-terminating proxy)")


def _described(*servicers: tuple[object, Any]) -> list[tuple[object, ServiceDescriptor]]:
    """(servicer, its generated module) pairs as (servicer, its service's descriptor): a
    servicer class is named after the service it implements."""
    return [(servicer, module.DESCRIPTOR.services_by_name[type(servicer).__name__]) for servicer, module in servicers]


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
