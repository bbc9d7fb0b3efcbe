"""Cross-language round trips through one jobsvc server: a Python client calls a handler
served by a Go worker; a Go client calls a handler served by a TypeScript worker; Python and
Go clients call a handler served by a Java worker; one workflow is driven from Go, TypeScript
and Java each, its steps run by Go, TypeScript and Java workers and a Python in-process
handler. (A Java client streaming a Python in-process handler is in the Java suite: StreamTest.)"""

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
from typing import Any

import pytest

from jobsvc.api.auth import AuthConfig, token_digest
from jobsvc.sdk import Client, ClientSecurity, payload_value
from jobsvc.server import JobsvcServer
from tests.conftest import REPO, StartServer

GO = REPO / "clients" / "go"
TS = REPO / "clients" / "typescript"
JAVA = REPO / "clients" / "java"
# The Java worker process: dev.jobsvc.worker.examples.ServingWorker (in the Java test sources).
JAVA_WORKER = "dev.jobsvc.worker.examples.ServingWorker"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(shutil.which("go") is None or shutil.which("npm") is None, reason="needs go and npm"),
]


@pytest.fixture(scope="module")
def go_binaries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go example worker, the Go calling tool and the Go workflow example, built once."""
    out = tmp_path_factory.mktemp("go-bin")
    for name, package in (
        ("example-worker", "./cmd/example-worker"),
        ("jobsvc-call", "./cmd/jobsvc-call"),
        ("workflow", "./examples/workflow"),
    ):
        subprocess.run(["go", "build", "-o", str(out / name), package], cwd=GO, check=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def ts_built() -> Path:
    """The TypeScript package compiled (dist/), as its own tests build it."""
    if not (TS / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TS, check=True, timeout=300)
    subprocess.run(["npm", "run", "build"], cwd=TS, check=True, timeout=300)
    return TS / "dist" / "examples" / "example-worker.js"


@pytest.fixture(scope="module")
def java_classpath(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The Java client and its test sources compiled (one Maven run), and the classpath that
    runs the Java worker; skips where there is no Maven."""
    mvn = shutil.which("mvn")
    if mvn is None or shutil.which("java") is None:
        pytest.skip("needs mvn and java (Maven 3.8+, a JDK 17+)")
    listing = tmp_path_factory.mktemp("java") / "classpath.txt"
    subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-DskipTests",
            "test-compile",
            "dependency:build-classpath",
            f"-Dmdep.outputFile={listing}",
        ],
        cwd=JAVA,
        check=True,
        timeout=540,
    )
    target = JAVA / "target"
    return os.pathsep.join([str(target / "classes"), str(target / "test-classes"), listing.read_text().strip()])


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


async def go_call(
    binaries: Path, address: str, handler: str, input_json: str, token: str | None = None
) -> tuple[int, str, str]:
    """Call a handler with the Go calling tool (with `token` as JOBSVC_TOKEN): its exit code,
    stdout and stderr."""
    env = dict(os.environ) if token is None else dict(os.environ, JOBSVC_TOKEN=token)
    process = await asyncio.create_subprocess_exec(
        str(binaries / "jobsvc-call"),
        *("--server", address, handler, input_json),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def call_remote_worker(client: Client, handler: str, text: str) -> object:
    """Call a handler a remote worker serves with progress 50 then 100: its result."""
    job = await client.call(handler, text, timeout=30)
    events = [e async for e in client.stream(job.id)]
    assert [e.progress.percent for e in events if e.HasField("progress")] == [50, 100]
    assert events[1].started.executor.startswith("worker:")
    return payload_value(job.result)


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
        assert await call_remote_worker(client, "go_upper", "hello from python") == "HELLO FROM PYTHON"


async def test_go_client_calls_a_typescript_worker(api_server: JobsvcServer, go_binaries: Path, ts_built: Path) -> None:
    address = f"127.0.0.1:{api_server.port}"
    env = dict(os.environ, JOBSVC_SERVER=address)
    async with child("node", str(ts_built), ready="ts worker ready", env=env, cwd=TS):
        code, stdout, stderr = await go_call(go_binaries, address, "ts_reverse", '"polyglot"')
        assert code == 0, stderr
        answer = json.loads(stdout)
        assert answer["result"] == "tolgylop" and answer["version"] == "1.0.0"


async def test_python_and_go_clients_call_a_java_worker(
    api_server: JobsvcServer, go_binaries: Path, java_classpath: str
) -> None:
    address = f"127.0.0.1:{api_server.port}"
    env = dict(os.environ, JOBSVC_SERVER=address)
    async with (
        child("java", "-cp", java_classpath, JAVA_WORKER, ready="java worker serving", env=env, cwd=JAVA),
        Client(address) as client,
    ):
        assert await call_remote_worker(client, "java_title", "hello from python") == "Hello From Python"
        code, stdout, stderr = await go_call(go_binaries, address, "java_title", '"polyglot jobs"')
        assert code == 0, stderr
        answer = json.loads(stdout)
        assert answer["result"] == "Polyglot Jobs" and answer["version"] == "1.0.0"


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

        code, stdout, stderr = await go_call(go_binaries, address, "ts_reverse", '"abc"', secrets["caller"])
        assert code == 0, stderr
        assert json.loads(stdout)["result"] == "cba"
        code, _, stderr = await go_call(go_binaries, address, "ts_reverse", '"abc"', secrets["workers"])
        assert code == 1 and "PermissionDenied" in stderr, stderr  # a worker token may not call
        code, _, stderr = await go_call(go_binaries, address, "ts_reverse", '"abc"', "")
        assert code == 1 and "Unauthenticated" in stderr, stderr


async def test_one_workflow_driven_from_go_typescript_and_java(
    server: JobsvcServer, go_binaries: Path, ts_built: Path, java_classpath: str
) -> None:
    """The same workflow (clients/*/examples/workflow: ts_reverse, java_title and go_upper on the
    workers of those languages, joined by the Python in-process `echo`) driven from the Go, the
    TypeScript and the Java client at once; each step ran where its handler is served."""
    address = f"127.0.0.1:{server.port}"
    env = dict(os.environ, JOBSVC_SERVER=address)
    text = "polyglot jobs"
    drivers = {
        "go": [str(go_binaries / "workflow"), text],
        "ts": ["node", str(TS / "dist" / "examples" / "workflow.js"), text],
        "java": ["java", "-cp", java_classpath, "dev.jobsvc.client.examples.PolyglotWorkflow", text],
    }

    async def drive(argv: list[str]) -> dict[str, Any]:
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        assert process.returncode == 0, f"{argv[0]}: {stderr.decode()}"
        answer: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
        return answer

    async with (
        child(str(go_binaries / "example-worker"), "--server", address, ready="serving go_upper", env=env, cwd=GO),
        child("node", str(ts_built), ready="ts worker ready", env=env, cwd=TS),
        child("java", "-cp", java_classpath, JAVA_WORKER, ready="java worker serving", env=env, cwd=JAVA),
        Client(address) as client,
    ):
        for _ in range(50):  # the Go worker's registration races its log line by a few milliseconds
            if await client.handlers("go_upper"):
                break
            await asyncio.sleep(0.1)
        answers = dict(zip(drivers, await asyncio.gather(*map(drive, drivers.values())), strict=True))
        for language, answer in answers.items():
            assert answer["state"] == "WORKFLOW_STATE_SUCCEEDED", answer
            assert answer["result"] == {
                "driver": language,
                "reversed": "sboj tolgylop",
                "titled": "Polyglot Jobs",
                "upper": "POLYGLOT JOBS",
            }
            workflow = await client.get_workflow(answer["workflow_id"])
            executors = {}
            for step in workflow.steps:
                [started] = [e.started.executor async for e in client.stream(step.job.id) if e.HasField("started")]
                executors[step.name] = started.split(":")[0]
            assert executors == {"rev": "worker", "title": "worker", "upper": "worker", "join": executors["join"]}
            assert executors["join"] != "worker", executors
