"""A Patroni cluster on loopback for tests: one etcd (Debian's etcd-server), two
PostgreSQL nodes under Patroni (Debian's patroni, run with deploy/patroni/patroni.yml as
it is, its per-node values from the environment) and, when asked, HAProxy routing to the
primary (deploy/haproxy/postgres.cfg as it is). A test may change Patroni's dynamic
configuration (its ttl, synchronous mode) the way an operator does, through the REST
API's PATCH /config, once the cluster is bootstrapped. Every process is stopped by `close`."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import REPO
from tests.processes import free_port, postgres_account, spawn_logged

PATRONI = shutil.which("patroni")
ETCD = shutil.which("etcd")
HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
PATRONI_CONFIG = REPO / "deploy" / "patroni" / "patroni.yml"
POSTGRES_HAPROXY_CONFIG = REPO / "deploy" / "haproxy" / "postgres.cfg"
SCOPE = "jobsvc-test"
SUPERUSER, SUPERUSER_PASSWORD = "postgres", "test-superuser-secret"
REPLICATION_USER, REPLICATION_PASSWORD = "replicator", "test-replication-secret"
NODES = 2
SENDERS = "SELECT pid FROM pg_stat_replication"


def _pg_bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    return found[-1].parent if found else None


PG_BIN = _pg_bin_dir()
MISSING = [
    name
    for name, path in (("patroni", PATRONI), ("etcd", ETCD), ("haproxy", HAPROXY), ("postgres", PG_BIN))
    if path is None
]


def _get(url: str) -> int:
    """The HTTP status of GET url (0: no answer)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def _psql(url: str, sql: str) -> str:
    """What psql prints for one query (unaligned, tuples only); empty when it failed."""
    assert PG_BIN is not None
    answered = subprocess.run(
        [str(PG_BIN / "psql"), url, "-tAc", sql], capture_output=True, text=True, timeout=10, check=False, cwd="/"
    )
    return answered.stdout.strip()


def _json(url: str, body: dict[str, Any] | None = None, *, method: str = "POST") -> Any:
    """The JSON answer to GET url (body None) or to method url with body as JSON; None
    when nothing or an error answered."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="GET" if body is None else method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read() or b"null")
    except (OSError, ValueError):
        return None


@dataclass
class Node:
    """One PostgreSQL under Patroni."""

    name: str
    pg_port: int
    rest_port: int
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None

    def status(self, path: str) -> int:
        """The REST API's answer to GET path (200 for /primary on the primary)."""
        return _get(f"http://127.0.0.1:{self.rest_port}{path}")

    def rest(self, path: str, body: dict[str, Any] | None = None, *, method: str = "POST") -> Any:
        """The REST API's JSON answer to GET path (or method path with body)."""
        return _json(f"http://127.0.0.1:{self.rest_port}{path}", body, method=method)

    def streams_to(self, standby: Node, sync_state: str) -> bool:
        """Whether this node (a primary) streams WAL to standby in sync_state ('sync' or
        'async'), as its REST API reports pg_stat_replication."""
        status = self.rest("/patroni") or {}
        return any(
            r.get("application_name") == standby.name
            and r.get("state") == "streaming"
            and r.get("sync_state") == sync_state
            for r in status.get("replication", [])
        )

    def postmaster_pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(pid_file.read_text().split()[0])
        return None


class PatroniCluster:
    """etcd, NODES Patroni nodes and HAProxy in front; `url(database)` through HAProxy,
    `multi_host_url(database)` straight to the nodes."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._account = postgres_account()
        self._procs: list[subprocess.Popen[bytes]] = []
        self.nodes = [
            Node(f"node{i}", free_port(), free_port(), workdir / f"node{i}" / "data") for i in range(1, NODES + 1)
        ]
        self.port = free_port()
        self._etcd_port = free_port()
        # The leader key's ttl in force, once started.
        self.ttl = 0

    def start(self, dynamic: dict[str, Any] | None = None, *, haproxy: bool = True, timeout: float = 90.0) -> None:
        """etcd, then node1 (it bootstraps the cluster and leads), `dynamic` merged into
        the cluster's dynamic configuration (PATCH /config), node2 (cloned from node1, a
        standby: synchronous unless `dynamic` turns synchronous_mode off), then HAProxy
        when asked; returns once all of that holds, the leader's key living the ttl in
        force."""
        self._start_etcd()
        deadline = time.monotonic() + timeout
        leader, standbys = self.nodes[0], self.nodes[1:]
        self._start_node(leader)
        self._until(lambda: leader.status("/primary") == 200, deadline, "node1 to lead")
        config = leader.rest("/config", dynamic, method="PATCH") if dynamic else leader.rest("/config")
        assert isinstance(config, dict), f"/config {dynamic or ''} answered {config!r}: {self.logs()}"
        for node in standbys:
            self._start_node(node)
        if config.get("synchronous_mode"):
            self._until(lambda: all(n.status("/sync") == 200 for n in standbys), deadline, "a synchronous standby")
        else:
            self._until(lambda: all(leader.streams_to(n, "async") for n in standbys), deadline, "async standbys")
        self.ttl = self._ttl_in_force(int(config["ttl"]), deadline)
        if haproxy:
            self._start_haproxy()

    def _ttl_in_force(self, asked: int, deadline: float) -> int:
        """The ttl of the leader key's lease once the leader applied the configuration: the
        one asked for, or what Patroni made of it if that has not come within a few of its
        loops (Debian 12's Patroni 3.0 takes any ttl; later releases raise one under 20 s,
        their documented floor, to 20)."""
        settled = time.monotonic() + 5.0

        def applied() -> bool:
            return self.leader_ttl() == asked or (time.monotonic() > settled and self.leader_ttl() is not None)

        self._until(applied, deadline, f"the leader key's lease ({asked} s asked)")
        ttl = self.leader_ttl()
        assert ttl is not None
        return ttl

    def _until(self, condition: object, deadline: float, what: str) -> None:
        assert callable(condition)
        while time.monotonic() < deadline:
            if condition():
                return
            for proc in self._procs:
                if proc.poll() is not None and proc.returncode not in (0, -signal.SIGKILL):
                    raise AssertionError(f"{proc.args!r} exited ({proc.returncode}) waiting for {what}: {self.logs()}")
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}: {self.logs()}")

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str], *, as_account: bool
    ) -> subprocess.Popen[bytes]:
        account = self._account if as_account else None
        proc = spawn_logged(command, self._workdir / f"{name}.log", account=account, env=env)
        self._procs.append(proc)
        return proc

    def _start_etcd(self) -> None:
        assert ETCD is not None
        peer = f"http://127.0.0.1:{free_port()}"
        client = f"http://127.0.0.1:{self._etcd_port}"
        command = [ETCD, "--name", "etcd1", "--data-dir", str(self._workdir / "etcd")]
        command += ["--listen-client-urls", client, "--advertise-client-urls", client]
        command += ["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer]
        command += ["--initial-cluster", f"etcd1={peer}", "--initial-cluster-state", "new"]
        self._spawn("etcd", command, dict(os.environ), as_account=False)
        self._until(lambda: _get(f"{client}/health") == 200, time.monotonic() + 30, "etcd")

    def _start_node(self, node: Node) -> None:
        assert PATRONI is not None and PG_BIN is not None
        home = node.data_dir.parent
        home.mkdir(mode=0o700, parents=True)
        if self._account is not None:
            os.chown(home, *self._account)
            os.chmod(self._workdir, 0o755)  # the account reaches its node's directory
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(home),
            "PATRONI_SCOPE": SCOPE,
            "PATRONI_NAME": node.name,
            "PATRONI_ETCD3_HOSTS": f"127.0.0.1:{self._etcd_port}",
            "PATRONI_RESTAPI_LISTEN": f"127.0.0.1:{node.rest_port}",
            "PATRONI_RESTAPI_CONNECT_ADDRESS": f"127.0.0.1:{node.rest_port}",
            "PATRONI_POSTGRESQL_LISTEN": f"127.0.0.1:{node.pg_port}",
            "PATRONI_POSTGRESQL_CONNECT_ADDRESS": f"127.0.0.1:{node.pg_port}",
            "PATRONI_POSTGRESQL_DATA_DIR": str(node.data_dir),
            "PATRONI_POSTGRESQL_BIN_DIR": str(PG_BIN),
            "PATRONI_POSTGRESQL_PGPASS": str(home / "pgpass"),
            "PATRONI_SUPERUSER_USERNAME": SUPERUSER,
            "PATRONI_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD,
            "PATRONI_REPLICATION_USERNAME": REPLICATION_USER,
            "PATRONI_REPLICATION_PASSWORD": REPLICATION_PASSWORD,
        }
        # deploy/patroni/patroni.yml as it is; the node's own values come from env.
        node.proc = self._spawn(node.name, [PATRONI, str(PATRONI_CONFIG)], env, as_account=True)

    def _start_haproxy(self) -> None:
        assert HAPROXY is not None
        env = {**os.environ, "JOBSVC_PG_BIND": f"127.0.0.1:{self.port}"}
        for i, node in enumerate(self.nodes, 1):
            env[f"JOBSVC_PG_NODE_{i}"] = f"127.0.0.1:{node.pg_port}"
            env[f"JOBSVC_PG_NODE_{i}_REST"] = str(node.rest_port)
        checked = subprocess.run(
            [HAPROXY, "-c", "-f", str(POSTGRES_HAPROXY_CONFIG)], env=env, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        self._spawn("haproxy", [HAPROXY, "-db", "-f", str(POSTGRES_HAPROXY_CONFIG)], env, as_account=False)
        # HAProxy starts with every server UP until its checks say otherwise (`fall` of
        # them): wait until a few connections in a row all reach the primary.
        self._until(self._routes_to_primary_only, time.monotonic() + 15, "HAProxy to route to the primary only")

    def _routes_to_primary_only(self) -> bool:
        # More tries than servers: round robin visits each.
        return all(_psql(self.url("postgres"), "SELECT pg_is_in_recovery()") == "f" for _ in range(4))

    def url(self, database: str, *, node: Node | None = None) -> str:
        """A URL of database through HAProxy (or straight to one node)."""
        port = self.port if node is None else node.pg_port
        return f"postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/{database}"

    def multi_host_url(self, database: str) -> str:
        """A URL of database naming every node, the writable one wanted: no HAProxy."""
        hosts = ",".join(f"127.0.0.1:{node.pg_port}" for node in self.nodes)
        return f"postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@{hosts}/{database}?target_session_attrs=read-write"

    def leader_ttl(self) -> int | None:
        """The ttl etcd granted the lease of the cluster's leader key: how long the key
        outlives a leader that died (None: no leader key)."""
        etcd = f"http://127.0.0.1:{self._etcd_port}/v3"
        key = base64.b64encode(f"/service/{SCOPE}/leader".encode()).decode()
        found = _json(f"{etcd}/kv/range", {"key": key}) or {}
        lease = next((kv.get("lease") for kv in found.get("kvs", [])), None)
        if lease is None:
            return None
        granted = _json(f"{etcd}/lease/timetolive", {"ID": lease}) or {}
        return int(granted["grantedTTL"]) if "grantedTTL" in granted else None

    def primary(self) -> Node | None:
        """The node whose REST API says it is the primary now."""
        return next((n for n in self.nodes if n.status("/primary") == 200), None)

    def crash(self, node: Node, *, lag: float = 0.0) -> float:
        """SIGKILL the node's Patroni and its postmaster: its machine died (its leader key
        in etcd lives on until its ttl runs out); when it died.

        With lag, its WAL senders are stopped (SIGSTOP) that many seconds first, as behind
        a stalled network: the standbys receive nothing while the node goes on committing,
        and what they had not received dies with it (the senders are SIGKILLed too)."""
        assert node.proc is not None
        senders = [int(pid) for pid in _psql(self.url("postgres", node=node), SENDERS).split()] if lag else []
        try:
            for sender in senders:
                os.kill(sender, signal.SIGSTOP)
            time.sleep(lag)
            pid = node.postmaster_pid()
            died = time.time()
            os.killpg(node.proc.pid, signal.SIGKILL)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        finally:  # never left stopped
            for sender in senders:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(sender, signal.SIGKILL)
        node.proc.wait(10)
        return died

    def logs(self) -> str:
        """The last lines of every process's log."""
        parts = []
        for log in sorted(self._workdir.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-15:]
            parts.append(f"--- {log.name}\n" + "\n".join(lines))
        return "\n".join(parts)

    def close(self) -> None:
        """Stop everything: HAProxy and Patroni (which stops its PostgreSQL), then etcd
        (started first), which a stopping Patroni still writes to: without it, each one
        retries for its retry_timeout before it exits."""
        for group in (self._procs[1:], self._procs[:1]):
            for proc in group:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGTERM)
            for proc in group:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
        for node in self.nodes:  # a postmaster its Patroni left behind
            pid = node.postmaster_pid()
            if pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
