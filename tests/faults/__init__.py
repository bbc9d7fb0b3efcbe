"""Fault-injection tests of the delivery contract (/work/shared/RELIABILITY.md, invariants L1-L7).

Handlers record every execution in a ledger table of their own (`handlers.py`), clients
record every operation (`ledger.py`), faults are injected (kill -9, SIGTERM, PostgreSQL
stopped, handlers that raise, hang or crash) and `ledger.check` asserts the invariants.
"""
