"""A PostgreSQL of one test's own (and, when asked, a streaming standby of it), and the
health of a server watching it: for scenarios that stop, crash or fail over the database."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from jobsvc.store.postgres import PgStore, create_pool
from tests.conftest import subprocess_env
from tests.faults.handlers import create_ledger_table

DATABASE = "faults"


class DedicatedPostgres:
    """A PostgreSQL of this test's own (stopping it disturbs no other test), owned by a
    helper process without gRPC: see pg_owner.py for why pg_ctl must not run here."""

    def __init__(self, data_dir: Path) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.pg_owner", str(data_dir)],
            env=subprocess_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            self.dsn = self._reply()
        except BaseException:
            self.close()
            raise

    def _reply(self) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line or line.startswith("error"):
            raise AssertionError(f"the PostgreSQL owner failed: {line or self._proc.wait(30)}")
        return line

    def _command(self, command: str) -> str:
        assert self._proc.stdin is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        reply = self._reply()
        assert reply.split(" ", 1)[0] == "ok", reply
        return reply.removeprefix("ok").strip()

    async def stop_immediate(self) -> None:
        """pg_ctl stop -m immediate: every backend dies at once, as in a crash."""
        await asyncio.to_thread(self._command, "stop")

    async def kill(self) -> None:
        """SIGKILL the postmaster: a crash of the primary's machine as its clients see it
        (its backends exit when they notice; nothing is shut down cleanly)."""
        await asyncio.to_thread(self._command, "kill")

    async def promote_standby(self) -> None:
        """`pg_ctl promote -w` the standby: returns once it accepts writes."""
        await asyncio.to_thread(self._command, "promote")

    async def start(self) -> None:
        """Start again on the same port (crash recovery first)."""
        await asyncio.to_thread(self._command, "start")

    async def start_standby(self) -> str:
        """Clone a streaming-replication standby (hot: it answers reads) and start it on a
        port of its own; its DSN. Asynchronous replication: see make_synchronous."""
        return await asyncio.to_thread(self._command, "standby")

    def close(self) -> None:
        """Stop the servers and their owner."""
        with contextlib.suppress(OSError, AssertionError):
            self._command("quit")
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)


def port_of(dsn: str) -> int:
    """The port a single-host DSN names."""
    port = urlsplit(dsn).port
    assert port is not None, dsn
    return port


async def prepare_database(pg: DedicatedPostgres) -> str:
    """Create the database `faults` on pg, migrated, with the ledger table; its DSN."""
    return await prepare_database_at(pg.dsn)


async def prepare_database_at(admin_dsn: str) -> str:
    """Create the database `faults` on the server of admin_dsn, migrated, with the ledger
    table; its DSN."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await conn.close()
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/{DATABASE}"
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        await PgStore(pool).migrate()
        await create_ledger_table(pool)
    finally:
        await pool.close()
    return dsn
