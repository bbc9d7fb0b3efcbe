"""Connecting to PostgreSQL, what its errors mean to a caller, and a health probe that
cannot hang. (Telling other processes that jobs changed: jobsvc.store.notify.)"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
from asyncpg.connect_utils import SessionAttribute

from jobsvc.domain.errors import Aborted, JobsvcError, Unavailable

log = logging.getLogger("jobsvc.store")

# Errors that mean "the database is not reachable right now", as opposed to a bug
# in a query: they become UNAVAILABLE so that callers retry.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    # A multi-host URL none of whose hosts is (say) a writable primary: mid-failover.
    asyncpg.exceptions.TargetServerAttributeNotMatched,
    # "cannot switch to state N; another operation is in progress": asyncpg's word for a
    # connection whose server died between two messages of one query (a SIGKILLed
    # postmaster, tests/faults/test_standby_failover.py); the connection is lost.
    asyncpg.exceptions.InternalClientError,
    TimeoutError,
)

# Errors after which a pool connection is dropped rather than reused: the pool connects
# again (to the next host of a multi-host URL, for a server found read-only).
DROP_CONNECTION: tuple[type[BaseException], ...] = (
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.exceptions.InternalClientError,
)

# Errors of a healthy query on a server that cannot take it now: an operator cancelled it
# (pg_cancel_backend) or it ran past a statement or lock timeout, the server is read-only
# (a standby reached during a failover), out of resources, or failing its disks. The
# request did nothing; another try, here or on another replica, may work.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.OperatorInterventionError,  # 57xxx: query_canceled, admin_shutdown, ...
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.LockNotAvailableError,
    asyncpg.IdleInTransactionSessionTimeoutError,
    asyncpg.InsufficientResourcesError,  # 53xxx: disk full, out of memory, too many connections
    asyncpg.PostgresSystemError,  # 58xxx: I/O errors
)

# Errors that mean "do it again": the server rolled the transaction back to keep
# concurrent ones consistent (serialization failure, deadlock).
CONFLICT_ERRORS: tuple[type[BaseException], ...] = (asyncpg.TransactionRollbackError,)

# What stands between jobsvc's pools and PostgreSQL (`--database-pooler`): "none" (the
# server itself, or a pooler in session mode) or "transaction" (PgBouncer's transaction
# pooling: each transaction may run on another server connection, so no statement is
# prepared by name and no setting outlives a transaction; LISTEN needs a session of its
# own, see ServerConfig.listen_database_url).
POOLERS = ("none", "transaction")
# asyncpg's default prepared-statement cache; 0 behind a transaction pooler (a statement
# prepared on one server connection does not exist on the next).
STATEMENT_CACHE_SIZE = 100

# Connect and pool-acquire limits: a request fails fast with UNAVAILABLE rather than
# waiting for a database that does not answer (the caller retries on another replica).
CONNECT_TIMEOUT = 5.0


def database_error(exc: BaseException) -> JobsvcError | None:
    """The domain error a database failure is answered with; None for anything else
    (a bug in a query stays a bug, and is answered INTERNAL)."""
    if isinstance(exc, asyncpg.ReadOnlySQLTransactionError):
        return Unavailable(f"the database is read-only (a standby?): {exc}", reason="DATABASE_READ_ONLY")
    if isinstance(exc, asyncpg.exceptions.TargetServerAttributeNotMatched):
        # Every host of the URL answered, none as a writable primary (see session_attrs).
        return Unavailable(f"no writable database server: {exc}", reason="DATABASE_READ_ONLY")
    if isinstance(exc, TimeoutError):
        return Unavailable("database unavailable: no answer in time (a pool connection or a statement)")
    if isinstance(exc, CONNECTION_ERRORS):
        return Unavailable(f"database unavailable: {exc}")
    if isinstance(exc, TRANSIENT_ERRORS):
        return Unavailable(f"database unavailable: {type(exc).__name__}: {exc}")
    if isinstance(exc, CONFLICT_ERRORS):
        return Aborted(f"database conflict, retry the request: {type(exc).__name__}: {exc}")
    return None


# The target_session_attrs that only ever accept a writable server. jobsvc writes on every
# path, so it connects with one of them whatever the URL or PGTARGETSESSIONATTRS allows:
# with `any` (libpq's default), `prefer-standby`, `standby` or `read-only`, a multi-host
# URL settles on the first host that answers, a standby included, and stays there while
# the primary it also names is up.
_WRITABLE_ATTRS = (SessionAttribute.read_write, SessionAttribute.primary)


def _named_session_attrs(dsn: str) -> str | None:
    """target_session_attrs as the URL's query, else PGTARGETSESSIONATTRS, names it."""
    named = parse_qs(urlsplit(dsn).query).get("target_session_attrs")
    return named[-1] if named else os.environ.get("PGTARGETSESSIONATTRS") or None


def session_attrs(dsn: str) -> SessionAttribute:
    """target_session_attrs for connections to dsn: `primary` when the URL (or
    PGTARGETSESSIONATTRS) names it, read-write otherwise, so that a multi-host URL never
    settles on a standby. A server that turns read-only later is still unavailable."""
    named = _named_session_attrs(dsn)
    return SessionAttribute.primary if named == SessionAttribute.primary else SessionAttribute.read_write


def _warn_if_overridden(dsn: str) -> None:
    named = _named_session_attrs(dsn)
    if named is not None and named not in _WRITABLE_ATTRS:
        log.warning(
            "the database URL allows target_session_attrs=%s; jobsvc needs a writable server and connects "
            "with target_session_attrs=read-write",
            named,
        )


def _json_decode(text: str) -> Any:
    """jsonb as Python; the values most rows hold (no labels, no errors, no result yet)
    without the parser (a fresh object each time: callers may change them)."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if text == "null":
        return None
    return json.loads(text)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=_json_decode, schema="pg_catalog")


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """Pool connections hold no session state (no LISTEN, no session locks, no
    temp tables), so asyncpg's reset round trip on every release is pure cost."""


class _PoolFloorWarnings(logging.Filter):
    """asyncpg logs a traceback each time it fails to reconnect a pool's idle connections,
    over and over while the database is away (a failover, a restart). Health already says
    the database is unreachable: one warning line per minute is enough."""

    MESSAGE = "Failed to restore the pool connection floor"
    EVERY_SECONDS = 60.0

    def __init__(self) -> None:
        super().__init__()
        self._last = float("-inf")

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.MESSAGE):
            return True
        now = time.monotonic()
        if now - self._last < self.EVERY_SECONDS:
            return False
        self._last = now
        error = record.exc_info[1] if record.exc_info else None
        record.msg = f"{self.MESSAGE} (the database is unreachable): %s; retrying (said once a minute)"
        record.args = (f"{type(error).__name__}: {error}" if error else "no detail",)
        record.exc_info = None
        record.exc_text = None
        return True


def _quiet_pool_floor_warnings() -> None:
    pool_logger = logging.getLogger("asyncpg.pool")
    if not any(isinstance(f, _PoolFloorWarnings) for f in pool_logger.filters):
        pool_logger.addFilter(_PoolFloorWarnings())


def statement_cache_size(pooled: bool) -> int:
    """asyncpg's statement_cache_size for connections through a transaction pooler or not."""
    return 0 if pooled else STATEMENT_CACHE_SIZE


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 20, for_claims: bool = False, pooled: bool = False
) -> asyncpg.Pool:
    """A pool whose connections speak JSON for jsonb; for_claims tunes the planner for
    the claim queries (see PgStore.job_claim), the only ones such a pool runs (session
    settings: not behind a transaction pooler). pooled: dsn goes through a transaction
    pooler (no prepared-statement cache)."""
    if for_claims and pooled:
        raise ValueError("a claim pool's planner settings do not survive a transaction pooler")
    _quiet_pool_floor_warnings()
    _warn_if_overridden(dsn)
    settings = {"application_name": "jobsvc"}
    if not pooled:
        # No JIT: jobsvc's statements are short, and run over and over. Once autovacuum
        # had counted the jobs table at tens of thousands of rows, the flow-controlled
        # claim's estimated cost crossed jit_above_cost and PostgreSQL compiled it with
        # LLVM at every execution (55-70 ms of a 3 ms claim of 32): flow-controlled
        # throughput fell tenfold half a minute into a load. A transaction pooler refuses
        # startup settings: claims then set it in their transaction (plan_claims_for_transaction),
        # and the README asks for `ALTER ROLE ... SET jit = off`.
        settings["jit"] = "off"
    if for_claims:
        # A queue is claimed by walking the queued-jobs index in hand-out order up to the
        # batch size. The planner cannot estimate the served-versions filter and, guessing
        # few matches, reads and sorts every queued job instead, by a sequential or a
        # bitmap scan (measured: 17-40 ms for a claim of 128 from 20,000 queued, against
        # under 2 ms through the index). With both off, the index walk is the only plan
        # left, for any parameters: each connection plans a claim once (generic plan)
        # rather than at every call, which cost 0.3-0.7 ms of a 2 ms claim of 32.
        # tests/store/test_postgres.py checks the generic plans walk the index.
        settings.update(plan_cache_mode="force_generic_plan", enable_seqscan="off", enable_bitmapscan="off")
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            reset=_no_reset,
            command_timeout=30,
            timeout=CONNECT_TIMEOUT,
            target_session_attrs=session_attrs(dsn),
            server_settings=settings,
            statement_cache_size=statement_cache_size(pooled),
        )
    except CONNECTION_ERRORS as exc:
        raise Unavailable(f"cannot connect to PostgreSQL: {exc}{_pooler_hint(exc)}") from exc
    assert pool is not None
    return pool


def _pooler_hint(exc: BaseException) -> str:
    """What to set when a pooler refused a session setting (PgBouncer refuses the claim
    pool's planner settings): jobsvc was not told it runs behind one."""
    if "unsupported startup parameter" not in str(exc):
        return ""
    return (
        " (a connection pooler such as PgBouncer in between? Behind one in transaction mode, start "
        "with --database-pooler transaction and --listen-database-url; see the README, 'Through PgBouncer')"
    )


class HealthProbe:
    """Answers "can this process use the database now?" within a hard time limit.

    A connection of its own, outside the pools: a probe never waits behind busy pool
    connections, and a probe that times out abandons its connection at once
    (terminate: no cancel request, which a blackholed network would swallow too) and
    connects afresh next time. A read-only server (a standby) is not usable.
    """

    def __init__(self, dsn: str, *, pooled: bool = False) -> None:
        self._dsn = dsn
        self._pooled = pooled
        self._conn: asyncpg.Connection | None = None

    async def check(self, timeout: float) -> None:
        """Return when the database answered as a writable primary; raise Unavailable otherwise."""
        try:
            read_only = await asyncio.wait_for(self._read_only(timeout), timeout)
        except asyncio.CancelledError:
            self._abandon()
            raise
        except Exception as exc:
            self._abandon()
            if isinstance(exc, TimeoutError):
                raise Unavailable(f"the database did not answer within {timeout:g}s") from exc
            raise database_error(exc) or Unavailable(f"database check failed: {exc}") from exc
        if read_only:
            self._abandon()  # the next probe connects again: perhaps to the new primary
            raise Unavailable("the database is read-only (a standby?)", reason="DATABASE_READ_ONLY")

    async def _read_only(self, timeout: float) -> bool:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self._dsn,
                timeout=timeout,
                # As the pools connect: a multi-host URL finds its primary; one that turns
                # read-only under this connection (fenced) is seen, and reported, below.
                target_session_attrs=session_attrs(self._dsn),
                server_settings={"application_name": "jobsvc-health"},
                statement_cache_size=statement_cache_size(self._pooled),
            )
        return bool(await self._conn.fetchval("SELECT current_setting('transaction_read_only') = 'on'"))

    def _abandon(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def close(self) -> None:
        """Close the probe's connection."""
        self._abandon()
