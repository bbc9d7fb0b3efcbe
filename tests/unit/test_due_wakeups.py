"""The listener's wake-ups for jobs due later (retries, delayed jobs, sleeps): every moment
it was told of wakes the claim loops, not only the earliest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from jobsvc.store.notify import DUE_MARGIN, Listener
from jobsvc.supervisor import Supervisor


async def test_each_moment_told_wakes_the_claim_loops_at_or_after_it() -> None:
    listener = Listener("postgresql://unused", Supervisor())  # jobs_due needs no connection
    now = datetime.now(UTC)
    moments = [now + timedelta(seconds=s) for s in (0.3, 0.1, 0.2)]  # told out of order
    woken: list[datetime] = []
    with listener.due_signal() as due:
        for moment in moments:
            listener.jobs_due(moment)
        for _ in moments:
            await asyncio.wait_for(due.wait(), 2.0)  # before the fix: only the earliest woke
            due.clear()
            woken.append(datetime.now(UTC))
    assert [w >= m for w, m in zip(woken, sorted(moments), strict=True)] == [True] * 3, (woken, moments)
    assert woken[-1] - sorted(moments)[-1] < timedelta(seconds=1.0 + DUE_MARGIN)
