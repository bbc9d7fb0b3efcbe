"""Route each handler's calls to the jobsvc deployment (shard) that owns it.

Past what one PostgreSQL primary sustains, run several independent jobsvc deployments,
each with its own PostgreSQL cluster, and give every handler (or tenant's handlers) to one
of them. Nothing spans two shards: a job, its retries, its children and every step of a
workflow live on the shard of the handler that was submitted.

    async with ShardRouter({"resize": "shard-a:50051", "email": "shard-b:50051"}, default="shard-a:50051") as router:
        job = await router.submit("resize", {"url": "..."})
        ...
        job = await router.get("resize", job.id)

A job id does not say which shard made it, and the router remembers nothing: calls on an
existing job (get, cancel, attaching a stream) take its handler as well, which every Job
message carries (`job.handler`), so they go to the shard that owns that handler. The
other designs were worse: asking every shard for an id costs one RPC per shard and cannot
tell "not found" from "that shard is down"; a map of ids in the client is lost at
restart and differs between clients. Moving a handler to another shard therefore means
draining it first (its jobs stay where they were made).

For anything else (SubmitBatch of one shard's handlers, ListJobs, schedules, workflows,
pauses) take the shard's Client with `router.client(handler)`, or every shard's with
`router.clients()`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from jobsvc.sdk.client import Client, ClientSecurity, job_spec
from jobsvc.v1 import job_pb2


class ShardRouter:
    """One Client per shard address, and each handler's calls sent to its shard."""

    def __init__(
        self,
        routes: Mapping[str, str],
        *,
        default: str | None = None,
        security: ClientSecurity | None = None,
    ) -> None:
        """routes maps a handler name to its shard's address (host:port); handlers not in
        it go to `default`, or are refused (LookupError) when there is none."""
        self._routes = dict(routes)
        self._default = default
        addresses = {*self._routes.values(), *([default] if default is not None else [])}
        self._clients = {address: Client(address, security=security) for address in sorted(addresses)}

    def client(self, handler: str) -> Client:
        """The Client of the shard that owns `handler`."""
        address = self._routes.get(handler, self._default)
        if address is None:
            raise LookupError(f"no shard for handler {handler!r} and no default shard")
        return self._clients[address]

    def clients(self) -> dict[str, Client]:
        """Every shard's Client, by address (to list or operate on all shards)."""
        return dict(self._clients)

    async def submit(self, handler: str, input: Any = None, **options: Any) -> job_pb2.Job:
        """Client.submit on the handler's shard."""
        return await self.client(handler).submit(handler, input, **options)

    async def call(self, handler: str, input: Any = None, **options: Any) -> job_pb2.Job:
        """Client.call on the handler's shard."""
        return await self.client(handler).call(handler, input, **options)

    def stream(
        self, handler: str, job_id: str | None = None, *, input: Any = None, after_sequence: int = 0, **options: Any
    ) -> AsyncIterator[job_pb2.JobEvent]:
        """Client.stream on the handler's shard: the events of job_id, or, without one, of
        a new job of `handler` with `input` (options are job_spec's)."""
        client = self.client(handler)
        if job_id is not None:
            return client.stream(job_id, after_sequence=after_sequence)
        return client.stream(submit=job_spec(handler, input, **options), after_sequence=after_sequence)

    async def get(self, handler: str, job_id: str, **options: Any) -> job_pb2.Job:
        """Client.get on the shard of the job's handler."""
        return await self.client(handler).get(job_id, **options)

    async def cancel(self, handler: str, job_id: str, reason: str = "", **options: Any) -> job_pb2.Job:
        """Client.cancel on the shard of the job's handler."""
        return await self.client(handler).cancel(job_id, reason, **options)

    async def close(self) -> None:
        """Close every shard's channel."""
        for client in self._clients.values():
            await client.close()

    async def __aenter__(self) -> ShardRouter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
