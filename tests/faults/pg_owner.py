"""Owns a dedicated PostgreSQL (and, on demand, a streaming standby of it) in a process
without gRPC, driven by lines on stdin.

pg_ctl runs as the PostgreSQL account when we are root, which makes Python fork()
(not vfork) for it; gRPC forbids fork() in a process with gRPC work under way (its
fork handlers can crash the child: pg_ctl then dies of SIGSEGV, seen as exit -11).
The test process runs servers and clients, so it asks this helper instead:

    python -m tests.faults.pg_owner DATA_DIR     prints the DSN, then for each line
    stop | start | quit                          answers "ok" or "error ..."
    standby                                      answers "ok DSN" (a standby of the
                                                 server, on a port of its own)
    kill                                         SIGKILL the first server's postmaster
                                                 (a crash of its machine, as the clients see it)
    promote                                      `pg_ctl promote -w` the standby

stop, start and kill act on the first server. The test may also promote the standby
itself with `SELECT pg_promote()`. End of input (the test process died) stops both
servers too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jobsvc.store.embedded import EmbeddedPostgres, EmbeddedPostgresError


def start_standby(primary: EmbeddedPostgres, data_dir: Path) -> EmbeddedPostgres:
    """A streaming-replication standby of primary, cloned into data_dir and started.

    pg_basebackup -R copies the cluster and writes standby.signal and primary_conninfo;
    initdb's trust configuration already lets 127.0.0.1 connect for replication, and
    wal_level=replica and max_wal_senders=10 are PostgreSQL's defaults.
    """
    conninfo = f"host=127.0.0.1 port={primary.port} user=postgres"
    command = [str(primary.bin_dir / "pg_basebackup"), "-D", str(data_dir), "-R", "-X", "stream", "-c", "fast"]
    done = subprocess.run([*command, "-d", conninfo], capture_output=True, text=True, timeout=120, cwd="/", check=False)
    if done.returncode != 0:
        raise EmbeddedPostgresError(f"pg_basebackup failed: {done.stdout}{done.stderr}")
    # The copy belongs to whoever owns the primary's files (the PostgreSQL account when we
    # are root, see embedded._service_account): the standby's server runs as that account.
    owner = primary.data_dir.stat()
    for root, dirs, files in os.walk(data_dir):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.chown(name, owner.st_uid, owner.st_gid)
    standby = EmbeddedPostgres(data_dir, fsync=True, bin_dir=primary.bin_dir)
    standby.start()
    return standby


def kill(server: EmbeddedPostgres) -> None:
    """SIGKILL the postmaster and wait until it is gone (its backends notice its death and
    exit by themselves; `stop` later finds no server and leaves it at that). pg_ctl
    detached it: init reaps it, not us."""
    pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise EmbeddedPostgresError(f"postmaster {pid} outlived SIGKILL")


def _obey(command: str, primary: EmbeddedPostgres, standbys: list[EmbeddedPostgres]) -> str:
    """Carry out one command; the text after "ok"."""
    if command == "stop":
        primary.stop("immediate")
    elif command == "start":
        primary.start()
    elif command == "kill":
        kill(primary)
    elif command == "promote" and standbys:
        standbys[0].promote()
    elif command == "standby" and not standbys:
        standby_dir = primary.data_dir.with_name(primary.data_dir.name + "-standby")
        standbys.append(start_standby(primary, standby_dir))
        return f" {standbys[0].dsn}"
    else:
        raise EmbeddedPostgresError(f"unknown (or repeated) command {command!r}")
    return ""


def serve(data_dir: Path) -> None:
    """Start the server, obey commands until quit or end of input, stop everything."""
    # Durable settings: with synchronous_commit off an immediate stop may lose commits
    # that were already acknowledged, and the test would blame jobsvc for it.
    server = EmbeddedPostgres(data_dir, fsync=True)
    standbys: list[EmbeddedPostgres] = []
    print(server.start(), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "quit":
                break
            try:
                print(f"ok{_obey(command, server, standbys)}", flush=True)
            except (EmbeddedPostgresError, OSError, subprocess.TimeoutExpired) as exc:
                print(f"error {exc!r}".replace("\n", " "), flush=True)
    finally:
        try:
            for standby in standbys:
                standby.stop("immediate")
        finally:
            server.stop("immediate")


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
