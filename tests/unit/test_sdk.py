"""The Python SDK stands apart from the server.

import-linter checks the imports written in jobsvc.sdk; this checks what actually runs
when a user imports it, package __init__ files included (importing any module under
jobsvc.executor, for one, runs the package's __init__, which loads the store).
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import subprocess_env

SERVER_SIDE = ("asyncpg", "jobsvc.api", "jobsvc.app", "jobsvc.executor", "jobsvc.server", "jobsvc.store")


def test_importing_the_sdk_loads_nothing_of_the_server() -> None:
    code = "import sys, jobsvc.sdk; print('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    assert "jobsvc.sdk.worker" in loaded and "jobsvc.codec" in loaded
    assert [m for m in loaded if m in SERVER_SIDE or m.startswith(tuple(f"{s}." for s in SERVER_SIDE))] == []


def test_the_compatibility_modules_re_export_the_sdk() -> None:
    from jobsvc import client, sdk, worker
    from jobsvc.sdk import client as sdk_client
    from jobsvc.sdk import worker as sdk_worker

    for shim, home in ((client, sdk_client), (worker, sdk_worker)):
        assert shim.__all__
        for name in shim.__all__:
            assert getattr(shim, name) is getattr(home, name), f"{shim.__name__}.{name}"
    assert client.Client is sdk.Client and worker.RemoteWorker is sdk.RemoteWorker
