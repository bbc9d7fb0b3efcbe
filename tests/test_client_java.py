"""The Java client (clients/java): its Maven test suite against an in-process jobsvc server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal

import pytest

from jobsvc.server import JobsvcServer
from tests.conftest import REPO

pytestmark = pytest.mark.slow

JAVA_CLIENT = REPO / "clients" / "java"
# A warm ~/.m2 runs the suite in well under a minute; a cold one downloads the dependencies first.
MAVEN_TIMEOUT = 540.0
OUTPUT_TAIL = 20_000


@pytest.mark.timeout(MAVEN_TIMEOUT + 60)
async def test_java_client_suite(server: JobsvcServer) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        pytest.skip("mvn is not on PATH: the Java client's tests need Maven 3.8+ and a JDK 17+")
    env = {**os.environ, "JOBSVC_SERVER": f"127.0.0.1:{server.port}"}
    # The server runs on this event loop: Maven must run beside it, never block it.
    proc = await asyncio.create_subprocess_exec(
        mvn,
        "-q",
        "-B",
        "-Dstyle.color=never",
        "test",
        cwd=JAVA_CLIENT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group: Maven and the test JVM it forks
    )
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), MAVEN_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        output, _ = await proc.communicate()
        pytest.fail(f"mvn test ran over {MAVEN_TIMEOUT:.0f} s; its output:\n{_tail(output)}")
    assert proc.returncode == 0, f"mvn test exited {proc.returncode}; its output:\n{_tail(output)}"


def _tail(output: bytes) -> str:
    text = output.decode(errors="replace")
    return text if len(text) <= OUTPUT_TAIL else "…" + text[-OUTPUT_TAIL:]
