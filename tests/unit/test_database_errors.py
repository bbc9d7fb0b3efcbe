"""How database failures are answered (store/connection.py's database_error)."""

from __future__ import annotations

import asyncpg

from jobsvc.domain.errors import Unavailable
from jobsvc.store.connection import DROP_CONNECTION, database_error


def test_a_connection_whose_server_died_mid_query_is_unavailable_and_dropped() -> None:
    """asyncpg's InternalClientError after a SIGKILLed postmaster (seen in
    tests/faults/test_standby_failover.py) is UNAVAILABLE, not INTERNAL, and the
    connection is not reused."""
    exc = asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress")
    answer = database_error(exc)
    assert isinstance(answer, Unavailable)
    assert isinstance(exc, DROP_CONNECTION)
