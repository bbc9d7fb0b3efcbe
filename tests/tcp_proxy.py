"""A small asyncio TCP proxy on 127.0.0.1 for tests: counts the connections it carries
and can cut the link (every open connection reset, new ones closed at once) or
blackhole it (packets vanish: sockets stay open, nothing arrives, new connections
hang; when the hole closes, what was held is delivered, as TCP retransmission would)."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    """127.0.0.1:<port> -> upstream host:port."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.blocked = False
        # Cleared while blackholed: bytes wait in the proxy instead of moving.
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.accepted = 0
        self.port = 0

    @property
    def address(self) -> str:
        """host:port to connect to."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> TcpProxy:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.blocked:
            writer.transport.abort()
            return
        self.accepted += 1
        await self._flowing.wait()  # a connection attempt into a blackhole hangs
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, self._flowing)),
            asyncio.create_task(self._pump(up_reader, writer, self._flowing)),
        ]
        self._tasks.update(pumps)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for side in (writer, up_writer):
            side.transport.abort()
            self._open.discard(side)

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                await flowing.wait()
                writer.write(data)
                await writer.drain()

    def block(self) -> None:
        """Cut the link: reset every open connection and refuse new ones until unblock()."""
        self.blocked = True
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    def unblock(self) -> None:
        """Carry connections again."""
        self.blocked = False

    def blackhole(self) -> None:
        """Stop moving bytes, silently: no reset, no refusal (a dead route, a firewall drop)."""
        self._flowing.clear()

    def restore(self) -> None:
        """End the blackhole: held bytes and connection attempts go through."""
        self._flowing.set()

    async def close(self) -> None:
        """Stop listening and drop everything."""
        self.restore()
        self.block()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
