"""The test suite (see tests/conftest.py for its fixtures).

gRPC's fork handlers are turned off for the suite's process and everything it starts:
the suite runs gRPC servers and clients in process and forks children meanwhile
(PostgreSQL's tools, PgBouncer and Patroni as the PostgreSQL account, which makes
subprocess fork instead of vfork). With them on, a child forked while gRPC's threads were
busy ran gRPC's at-fork code and died by SIGSEGV before it could exec: 229 of 500 in
tests/e2e/test_fork_safety.py's reproduction, and once in CI as a Patroni node that never
started. Nothing here uses gRPC in a forked child, which is all the handlers are for.
gRPC reads this once, when it is first imported: this package is imported first.
"""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
