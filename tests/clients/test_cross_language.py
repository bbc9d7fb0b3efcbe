"""Cross-language round trips through one jobsvc server: a Python client calls a handler
served by a Go worker; a Go client calls a handler served by a TypeScript worker. (A Java
client streaming a Python in-process handler is in the Java suite: StreamTest.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobsvc.api.auth import AuthConfig, token_digest
from jobsvc.sdk import Client, ClientSecurity, payload_value
from jobsvc.server import JobsvcServer
from tests.conftest import REPO, StartServer

GO = REPO / "clients" / "go"
TS = REPO / "clients" / "typescript"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(shutil.which("go") is None or shutil.which("npm") is None, reason="needs go and npm"),
]


@pytest.fixture(scope="module")
def go_binaries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go example worker and the Go calling tool, built once."""
    out = tmp_path_factory.mktemp("go-bin")
    for name in ("example-worker", "jobsvc-call"):
        subprocess.run(["go", "build", "-o", str(out / name), f"./cmd/{name}"], cwd=GO, check=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def ts_built() -> Path:
    """The TypeScript package compiled (dist/), as its own tests build it."""
    if not (TS / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TS, check=True, timeout=300)
    subprocess.run(["npm", "run", "build"], cwd=TS, check=True, timeout=300)
    return TS / "dist" / "examples" / "example-worker.js"


@contextlib.asynccontextmanager
async def child(*argv: str, ready: str, env: dict[str, str], cwd: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """A worker process, ready when it prints `ready`; always stopped (SIGTERM, then SIGKILL)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    seen: list[str] = []
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            while not any(ready in line for line in seen):
                line = await process.stdout.readline()
                assert line, f"{argv[0]} exited before it was ready:\n" + "".join(seen)
                seen.append(line.decode(errors="replace"))
        yield process
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()


@pytest.fixture
async def api_server(start_server: StartServer) -> JobsvcServer:
    """A replica without in-process handlers: the workers run everything."""
    return await start_server(handler_modules=[])


async def test_python_client_calls_a_go_worker(api_server: JobsvcServer, go_binaries: Path) -> None:
    address = f"127.0.0.1:{api_server.port}"
    env = dict(os.environ)
    async with (
        child(str(go_binaries / "example-worker"), "--server", address, ready="serving go_upper", env=env, cwd=GO),
        Client(address) as client,
    ):
        for _ in range(50):  # registration races the first call by a few milliseconds
            if await client.handlers("go_upper"):
                break
            await asyncio.sleep(0.1)
        job = await client.call("go_upper", "hello from python", timeout=30)
        assert payload_value(job.result) == "HELLO FROM PYTHON"
        events = [e async for e in client.stream(job.id)]
        assert [e.progress.percent for e in events if e.HasField("progress")] == [50, 100]
        assert events[1].started.executor.startswith("worker:")


async def test_go_client_calls_a_typescript_worker(api_server: JobsvcServer, go_binaries: Path, ts_built: Path) -> None:
    address = f"127.0.0.1:{api_server.port}"
    env = dict(os.environ, JOBSVC_SERVER=address)
    async with child("node", str(ts_built), ready="ts worker ready", env=env, cwd=TS):
        process = await asyncio.create_subprocess_exec(
            str(go_binaries / "jobsvc-call"),
            "--server",
            address,
            "ts_reverse",
            '"polyglot"',
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, stderr.decode()
        answer = json.loads(stdout)
        assert answer["result"] == "tolgylop" and answer["version"] == "1.0.0"


async def test_go_and_typescript_clients_authenticate_with_tokens(
    start_server: StartServer, go_binaries: Path, ts_built: Path
) -> None:
    """With tokens on, the Go and TypeScript workers and the Go client send theirs (JOBSVC_TOKEN)."""
    secrets = {"workers": "tok-workers-x1", "caller": "tok-caller-x2"}
    spec = f"workers:work:{token_digest(secrets['workers'])} caller:call,read:{token_digest(secrets['caller'])}"
    server = await start_server(handler_modules=[], auth=AuthConfig(tokens=spec))
    address = f"127.0.0.1:{server.port}"
    worker_env = dict(os.environ, JOBSVC_SERVER=address, JOBSVC_TOKEN=secrets["workers"])
    async with (
        child(str(go_binaries / "example-worker"), ready="serving go_upper", env=worker_env, cwd=GO),
        child("node", str(ts_built), ready="ts worker ready", env=worker_env, cwd=TS),
        Client(address, security=ClientSecurity(token=secrets["caller"])) as client,
    ):
        for _ in range(50):  # registration races the first call by a few milliseconds
            if await client.handlers("go_upper"):
                break
            await asyncio.sleep(0.1)
        job = await client.call("go_upper", "token", timeout=30)
        assert payload_value(job.result) == "TOKEN"

        async def go_call(token: str) -> tuple[int, str, str]:
            process = await asyncio.create_subprocess_exec(
                str(go_binaries / "jobsvc-call"),
                *("--server", address, "ts_reverse", '"abc"'),
                env=dict(os.environ, JOBSVC_TOKEN=token),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
            return process.returncode or 0, stdout.decode(), stderr.decode()

        code, stdout, stderr = await go_call(secrets["caller"])
        assert code == 0, stderr
        assert json.loads(stdout)["result"] == "cba"
        code, _, stderr = await go_call(secrets["workers"])  # a worker token may not call
        assert code == 1 and "PermissionDenied" in stderr, stderr
        code, _, stderr = await go_call("")
        assert code == 1 and "Unauthenticated" in stderr, stderr
