"""The Java client (clients/java): its Maven test suite against an in-process jobsvc server."""

from __future__ import annotations

import os
import shutil

import pytest

from jobsvc.api.auth import AuthConfig, token_digest
from jobsvc.server import JobsvcServer
from tests.conftest import REPO, StartServer
from tests.toolchains import run_tool, tail

pytestmark = pytest.mark.slow

JAVA_CLIENT = REPO / "clients" / "java"
# A warm ~/.m2 runs the suite in well under a minute; a cold one downloads the dependencies first.
MAVEN_TIMEOUT = 540.0


@pytest.mark.timeout(MAVEN_TIMEOUT + 60)
async def test_java_client_suite(server: JobsvcServer, start_server: StartServer) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        pytest.skip("mvn is not on PATH: the Java client's tests need Maven 3.8+ and a JDK 17+")
    # A second server with tokens on, for TokenTest: this token may call and read, not submit.
    token = "tok-java-caller-5b2e"
    with_tokens = await start_server(auth=AuthConfig(tokens=f"java:call,read:{token_digest(token)}"))
    env = {
        **os.environ,
        "JOBSVC_SERVER": f"127.0.0.1:{server.port}",
        "JOBSVC_AUTH_SERVER": f"127.0.0.1:{with_tokens.port}",
        "JOBSVC_AUTH_TOKEN": token,
    }
    code, output = await run_tool(
        mvn, "-q", "-B", "-Dstyle.color=never", "test", cwd=JAVA_CLIENT, env=env, timeout=MAVEN_TIMEOUT
    )
    assert code == 0, f"mvn test exited {code}; its output:\n{tail(output)}"
