"""Many idle remote worker sessions in one process, for the idle-cost figure.

    python -m bench.idle_workers --server HOST:PORT --count 100

Each session is a RemoteWorker (the class `jobsvc worker` runs) with a gRPC connection of
its own, serving bench.remote_handlers, to which no job is ever sent. Prints ``READY`` once
every session has been welcomed, then runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

import grpc

from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.sdk import RemoteWorker, WorkerConfig

CONNECT_TIMEOUT = 60.0


async def run(target: str, count: int) -> None:
    """Connect `count` sessions, announce READY, stop them all on a signal."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    table = HandlerTable(list(load_module("bench.remote_handlers").handlers))
    workers = [
        RemoteWorker(
            target,
            table,
            config=WorkerConfig(worker_id=f"idle-{index}", concurrency=1, shutdown_grace=1.0),
            # A connection per session, as separate worker processes would have.
            channel=grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]),
        )
        for index in range(count)
    ]
    tasks = [asyncio.create_task(worker.run(), name=f"idle-worker-{i}") for i, worker in enumerate(workers)]
    try:
        await asyncio.wait_for(asyncio.gather(*(w.connected.wait() for w in workers)), CONNECT_TIMEOUT)
        print("READY", flush=True)
        await stop.wait()
    finally:
        for worker in workers:
            worker.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        for task in tasks:
            task.cancel()


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.idle_workers", description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        pass
    else:
        uvloop.install()
    asyncio.run(run(args.server, args.count))


if __name__ == "__main__":
    main()
