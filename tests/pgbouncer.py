"""PgBouncer (Debian's package) in transaction pooling mode in front of the suite's
PostgreSQL, for tests: started on a free loopback port, always stopped."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.processes import free_port, postgres_account, spawn_logged

PGBOUNCER = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")
# Server connections per database and user: far fewer than jobsvc's pool (20), so that
# its transactions really share server connections.
SERVER_CONNECTIONS = 4

# The settings that matter to jobsvc (README, "Through PgBouncer"); the rest is addresses.
CONFIG = """\
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {auth_file}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
; asyncpg sends none of these; other drivers (psql, JDBC) do
ignore_startup_parameters = extra_float_digits
"""


class PgBouncer:
    """pgbouncer in the foreground, transaction pooling to one PostgreSQL server."""

    def __init__(self, workdir: Path, upstream_url: str) -> None:
        assert PGBOUNCER is not None
        parts = urlsplit(upstream_url)
        self._upstream = parts
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        auth_file = workdir / "users.txt"
        auth_file.write_text(f'"{parts.username}" ""\n')
        config = workdir / "pgbouncer.ini"
        config.write_text(
            CONFIG.format(
                host=parts.hostname,
                port=parts.port,
                listen_port=self.port,
                auth_file=auth_file,
                pool_size=SERVER_CONNECTIONS,
            )
        )
        self.log = workdir / "pgbouncer.log"
        account = postgres_account()
        if account is not None:
            os.chmod(workdir, 0o755)  # the account reads the files it is given
            for path in (auth_file, config):
                os.chown(path, *account)
        self.proc = spawn_logged([PGBOUNCER, str(config)], self.log, account=account)
        try:
            self._wait_listening(10.0)
        except BaseException:
            self.stop()
            raise

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"pgbouncer exited ({self.proc.returncode}): {self.log.read_text()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError(f"pgbouncer did not listen within {timeout:g}s: {self.log.read_text()}")

    def url(self) -> str:
        """The upstream URL, through this pgbouncer."""
        netloc = f"{self._upstream.username}@127.0.0.1:{self.port}"
        return urlunsplit(self._upstream._replace(netloc=netloc))

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
