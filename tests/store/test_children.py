"""Child jobs at the storage port: a parked parent is queued again exactly once, by the
last of its awaited children to finish, however they race; spawns are idempotent by key
and fenced by the parent's attempt token."""

from __future__ import annotations

import asyncio

from jobsvc.domain.children import Park
from jobsvc.domain.jobs import EventKind, JobState, Payload
from jobsvc.store.port import JobStore
from tests.store.conftest import HANDLER, SERVED, _open, new

RESUMED = "its child jobs finished"


async def resumes(store: JobStore, job_id: str) -> int:
    """How often the parent was queued again by its children."""
    page = await store.job_event_list(job_id, 0, 1000)
    assert page is not None
    return sum(1 for e in page.events if e.kind is EventKind.REQUEUED and e.data.get("reason") == RESUMED)


async def test_children_finishing_at_once_on_two_replicas_resume_their_parent_exactly_once(
    implementation: tuple[str, str],
) -> None:
    async with _open(*implementation) as one, _open(*implementation) as other:
        await one.handler_register([HANDLER])
        for round_ in range(40):
            [(parent, _)] = await one.job_insert_many([new({"round": round_})])
            [claim] = await one.job_claim(SERVED, "parent-owner", 1, lease_seconds=30)
            token = claim.attempt_token
            spawned = [await one.job_spawn(parent.id, token, str(i), new({"child": i})) for i in range(3)]
            assert all(s is not None and s[2] for s in spawned)
            assert await one.job_spawn(parent.id, token, "0", new({"child": 0})) == (spawned[0][0], "echo", False)  # type: ignore[index]
            children = await one.job_claim(SERVED, "child-owner", 3, lease_seconds=30)
            assert len(children) == 3
            early, *racing = children
            if round_ % 2:  # one child finishes before the park: it is not counted
                await one.job_finish(early.job.id, early.attempt_token, JobState.SUCCEEDED, Payload(json=1))
            else:
                racing.append(early)
            parked = await one.job_park(parent.id, token, Park(children=tuple(c.job.id for c in children)))
            assert parked == (JobState.WAITING, None)
            stores = [one, other, one, other]
            await asyncio.gather(
                *(
                    store.job_finish(c.job.id, c.attempt_token, JobState.SUCCEEDED, Payload(json=2))
                    for store, c in zip(stores, racing, strict=False)
                )
            )
            resumed = await one.job_get(parent.id)
            assert resumed is not None and resumed.state is JobState.QUEUED, round_
            assert await resumes(one, parent.id) == 1
            [again] = await one.job_claim(SERVED, "parent-owner", 1, lease_seconds=30)
            assert again.job.id == parent.id and again.job.attempt == 1  # parking used no attempt
            found = await one.job_children(parent.id, [c.job.id for c in children])
            assert sorted(c.state.value for c in found) == ["succeeded"] * 3
            # Everything finished: the park queues it again at once, and nothing resumes it twice.
            requeued = await one.job_park(parent.id, again.attempt_token, Park(children=tuple(c.id for c in found)))
            assert requeued is not None and requeued[0] is JobState.QUEUED
            [last] = await one.job_claim(SERVED, "parent-owner", 1, lease_seconds=30)
            assert await one.job_finish(parent.id, last.attempt_token, JobState.SUCCEEDED, Payload(json="done"))
            assert await resumes(one, parent.id) == 1


async def test_a_stale_attempt_can_neither_spawn_nor_park(store: JobStore) -> None:
    [(parent, _)] = await store.job_insert_many([new("p")])
    [claim] = await store.job_claim(SERVED, "owner", 1, lease_seconds=30)
    assert await store.job_requeue(parent.id, claim.attempt_token, "gone")
    assert await store.job_spawn(parent.id, claim.attempt_token, "0", new("c")) is None
    assert await store.job_park(parent.id, claim.attempt_token, Park(sleep_key="sleep:0", until=None)) is None
    current = await store.job_get(parent.id)
    assert current is not None and current.state is JobState.QUEUED
