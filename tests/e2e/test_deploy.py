"""deploy/ and the Dockerfile: the configs parse and agree with each other and with the
code (ports, names, probes, the drain timings); HAProxy checks its own configuration."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobsvc.cli import parse_args
from jobsvc.server import LIVENESS_SERVICE, RPC_GRACE_MARGIN
from tests.conftest import REPO
from tests.lb import HAPROXY, HAPROXY_CONFIG, haproxy_env

KUBERNETES = REPO / "deploy" / "kubernetes"


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (scripts/system-deps installs it)")
def test_haproxy_accepts_the_configuration(tmp_path: Path) -> None:
    env = haproxy_env("127.0.0.1:50051", tmp_path / "admin.sock", [f"10.0.0.{i}:50051" for i in (1, 2, 3)])
    checked = subprocess.run(
        [str(HAPROXY), "-c", "-f", str(HAPROXY_CONFIG)], env=env, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = HAPROXY_CONFIG.read_text()
    assert "proto h2" in text and "tcp-check expect min-recv 0 binary 00000000020801" in text


def test_the_haproxy_health_check_is_a_grpc_health_check_request() -> None:
    """The hex in haproxy.cfg decodes to an HTTP/2 POST of an empty HealthCheckRequest."""
    hexed = re.search(r"tcp-check send-binary ([0-9a-f]+)", HAPROXY_CONFIG.read_text())
    assert hexed
    data = bytes.fromhex(hexed.group(1))
    assert data.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    frames, rest = [], data[24:]
    while rest:
        length, kind, flags = int.from_bytes(rest[:3], "big"), rest[3], rest[4]
        frames.append((kind, flags, rest[9 : 9 + length]))
        rest = rest[9 + length :]
    (settings, _, _), (headers, _, block), (data_kind, data_flags, body) = frames
    assert (settings, headers, data_kind) == (4, 1, 0)
    assert b"/grpc.health.v1.Health/Check" in block and b"application/grpc" in block and b"trailers" in block
    assert data_flags & 1 and body == b"\x00\x00\x00\x00\x00"  # END_STREAM; uncompressed, empty message


def manifests() -> dict[str, dict[str, Any]]:
    """kind/name -> document, over every YAML file in deploy/kubernetes."""
    found: dict[str, dict[str, Any]] = {}
    files = sorted(KUBERNETES.glob("*.yaml"))
    assert files
    for path in files:
        for document in yaml.safe_load_all(path.read_text()):
            assert {"apiVersion", "kind", "metadata"} <= set(document), path
            found[f"{document['kind']}/{document['metadata']['name']}"] = document
    return found


def test_kubernetes_manifests_agree_with_each_other_and_with_jobsvc(tmp_path: Path) -> None:
    docs = manifests()
    deployment = docs["Deployment/jobsvc"]
    pod = deployment["spec"]["template"]
    [container] = pod["spec"]["containers"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    # The configuration file is one jobsvc accepts, and it listens where the pod says.
    config_map = docs["ConfigMap/jobsvc-config"]
    config = tmp_path / "serve.toml"
    config.write_text(config_map["data"]["serve.toml"])
    args = container["args"]
    assert args[0] == "serve" and args[args.index("--config") + 1] == "/etc/jobsvc/serve.toml"
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == "/etc/jobsvc"]
    [volume] = [v for v in pod["spec"]["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "jobsvc-config"
    serve = parse_args(["serve", "--config", str(config)], {})
    assert ports == {"grpc": serve.port, "http": serve.http_port}

    # Native gRPC probes on that port; liveness on the service that ignores the database.
    probes = {name: container[name] for name in ("startupProbe", "readinessProbe", "livenessProbe")}
    for name, probe in probes.items():
        assert set(probe) & {"grpc", "httpGet", "tcpSocket", "exec"} == {"grpc"}, name
        assert probe["grpc"]["port"] == serve.port, name
    assert probes["readinessProbe"]["grpc"].get("service", "") == ""
    assert probes["livenessProbe"]["grpc"]["service"] == LIVENESS_SERVICE

    # Termination outlasts preStop + drain delay + grace + the RPC margin.
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    needed = float(pre_stop[1]) + serve.drain_delay + serve.shutdown_grace + RPC_GRACE_MARGIN
    assert pod["spec"]["terminationGracePeriodSeconds"] > needed

    # The Secret provides what the pod reads from it.
    secret = docs["Secret/jobsvc-database"]
    [database] = [e for e in container["env"] if e["name"] == "JOBSVC_DATABASE_URL"]
    ref = database["valueFrom"]["secretKeyRef"]
    assert ref["name"] == "jobsvc-database" and ref["key"] in secret["stringData"]

    # Services and the disruption budget select these pods, on the named port.
    # (HTTP through the Service only: the headless one is for gRPC clients balancing per call.)
    grpc, http = ("grpc", serve.port), ("http", serve.http_port)
    for name, wanted in (("Service/jobsvc", [grpc, http]), ("Service/jobsvc-headless", [grpc])):
        spec = docs[name]["spec"]
        assert spec["selector"].items() <= labels.items(), name
        assert [(p["targetPort"], p["port"]) for p in spec["ports"]] == wanted, name
    assert docs["PodDisruptionBudget/jobsvc"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert (
        deployment["spec"]["replicas"] >= 2 and deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    )
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def dockerfile_stages() -> list[str]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    return re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]


def test_the_dockerfile_is_multi_stage_non_root_and_health_checked() -> None:
    build, runtime = dockerfile_stages()
    assert " AS build" in build.splitlines()[0]
    assert "COPY --from=build /opt/jobsvc /opt/jobsvc" in runtime
    [user] = re.findall(r"^USER (\S+)$", runtime, re.MULTILINE)
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root user (Kubernetes runAsNonRoot can check it)"
    health = re.search(r"^HEALTHCHECK .*CMD (\[.+\])$", runtime, re.MULTILINE)
    assert health and '"jobsvc", "health"' in health.group(1)
    # Both ports: gRPC, and HTTP (the API over HTTP/JSON and the dashboard), as CMD serves them.
    exposed = re.findall(r"^EXPOSE (\d+)$", runtime, re.MULTILINE)
    cmd = shlex.split(re.search(r"^CMD \[(.+)\]$", runtime, re.MULTILINE).group(1).replace(",", " "))  # type: ignore[union-attr]
    defaults = parse_args(["serve"], {})
    assert exposed == [cmd[cmd.index("--port") + 1], cmd[cmd.index("--http-port") + 1]]
    assert exposed == [str(defaults.port), str(defaults.http_port)]
    assert re.search(r'^ENTRYPOINT \["jobsvc"\]$', runtime, re.MULTILINE), "exec form: jobsvc is PID 1 and gets SIGTERM"
