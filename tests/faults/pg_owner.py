"""Owns a dedicated PostgreSQL in a process without gRPC, driven by lines on stdin.

pg_ctl runs as the PostgreSQL account when we are root, which makes Python fork()
(not vfork) for it; gRPC forbids fork() in a process with gRPC work under way (its
fork handlers can crash the child: pg_ctl then dies of SIGSEGV, seen as exit -11).
The test process runs servers and clients, so it asks this helper instead:

    python -m tests.faults.pg_owner DATA_DIR     prints the DSN, then for each line
    stop | start | quit                          answers "ok" or "error ..."

End of input (the test process died) stops the server too.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jobsvc.store.embedded import EmbeddedPostgres, EmbeddedPostgresError


def serve(data_dir: Path) -> None:
    """Start the server, obey commands until quit or end of input, stop it."""
    # Durable settings: with synchronous_commit off an immediate stop may lose commits
    # that were already acknowledged, and the test would blame jobsvc for it.
    server = EmbeddedPostgres(data_dir, fsync=True)
    print(server.start(), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "quit":
                break
            try:
                if command == "stop":
                    server.stop("immediate")
                elif command == "start":
                    server.start()
                else:
                    raise EmbeddedPostgresError(f"unknown command {command!r}")
                print("ok", flush=True)
            except EmbeddedPostgresError as exc:
                print(f"error {exc!r}".replace("\n", " "), flush=True)
    finally:
        server.stop("immediate")


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
