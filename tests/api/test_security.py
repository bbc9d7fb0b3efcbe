"""TLS, mutual TLS and bearer tokens with scopes.

Every method of every jobsvc.v1 service is enumerated from the file descriptors, so a
method added to the proto is checked here without editing this file."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import trustme
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from jobsvc.api.auth import SCOPES, AuthConfig, Authenticator, required_scope, token_digest, tokens_from_toml
from jobsvc.api.status import add_service
from jobsvc.sdk import Client, ClientSecurity, error_details
from jobsvc.server import SERVICE_NAMES, JobsvcServer, TlsConfig
from tests.api_surface import call_async, jobsvc_methods, path_of
from tests.conftest import StartServer, subprocess_env
from tests.processes import ServerProcess, free_port, jobsvc_cli

Code = grpc.StatusCode

# One token per scope, one with every scope but one, and one with all: distinctive
# values, so that finding one in a log cannot be a coincidence.
SECRETS = {f"only-{s}": f"tok-only-{s}-7f3a9c" for s in sorted(SCOPES)}
SECRETS |= {f"all-but-{s}": f"tok-all-but-{s}-51e0d2" for s in sorted(SCOPES)}
SECRETS["everything"] = "tok-everything-c0ffee"
WRONG = "tok-nobody-knows-this-one-d34db3"


def _scopes_of(name: str) -> list[str]:
    if name == "everything":
        return sorted(SCOPES)
    if name.startswith("only-"):
        return [name.removeprefix("only-")]
    return sorted(SCOPES - {name.removeprefix("all-but-")})


TOKENS_SPEC = " ".join(f"{n}:{','.join(_scopes_of(n))}:{token_digest(s)}" for n, s in SECRETS.items())


def bearer(secret: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {secret}"),)


@pytest.fixture
async def auth_server(start_server: StartServer) -> JobsvcServer:
    return await start_server(auth=AuthConfig(tokens=TOKENS_SPEC))


# -- every method, every case --------------------------------------------------------


async def test_every_method_needs_a_token_with_its_scope(
    auth_server: JobsvcServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    methods = jobsvc_methods()
    assert {m.containing_service.full_name for m in methods} == set(SERVICE_NAMES)
    kinds = {(m.client_streaming, m.server_streaming) for m in methods}
    assert {(False, False), (False, True), (True, True)} <= kinds  # unary, server-streaming, bidi
    async with grpc.aio.insecure_channel(f"127.0.0.1:{auth_server.port}") as channel:
        for method in methods:
            scope = required_scope(method)
            # The empty message: valid bytes for every request type.
            cases = [
                ((), Code.UNAUTHENTICATED, "TOKEN_MISSING"),
                (bearer(WRONG), Code.UNAUTHENTICATED, "TOKEN_INVALID"),
                ((("authorization", f"Basic {SECRETS['everything']}"),), Code.UNAUTHENTICATED, "TOKEN_INVALID"),
                (bearer(SECRETS[f"all-but-{scope}"]), Code.PERMISSION_DENIED, "SCOPE_MISSING"),
            ]
            for metadata, code, reason in cases:
                answer = await call_async(channel, method, [b""], metadata=metadata, timeout=10)
                where = f"{path_of(method)} with {metadata or 'no token'}"
                assert answer.code == code, (where, answer.code, answer.error)
                assert isinstance(answer.error, grpc.aio.AioRpcError)
                details = error_details(answer.error)
                assert details.reason == reason, where
                if code == Code.PERMISSION_DENIED:
                    assert details.metadata["required_scope"] == scope, where
                    assert details.metadata["token_name"] == f"all-but-{scope}"
                for secret in (*SECRETS.values(), WRONG):
                    assert secret not in (answer.error.details() or "")
            for name in (f"only-{scope}", "everything"):
                answer = await call_async(channel, method, [b""], metadata=bearer(SECRETS[name]), timeout=3)
                assert answer.code not in (Code.UNAUTHENTICATED, Code.PERMISSION_DENIED, Code.UNKNOWN), (
                    path_of(method),
                    name,
                    answer.error,
                )
    assert "refused /jobsvc.v1." in caplog.text  # refusals are logged, by token name only
    assert "all-but-submit" in caplog.text
    for secret in (*SECRETS.values(), WRONG):
        assert secret not in caplog.text


def test_scopes_are_the_documented_ones() -> None:
    expected = {
        "Submit": "submit",
        "SubmitBatch": "submit",
        "Call": "call",
        "Stream": "stream",
        "GetJob": "read",
        "ListJobs": "read",
        "ListHandlers": "read",
        "CancelJob": "admin",
        "RedriveJob": "admin",
        "RedriveJobs": "admin",
    }
    for method in jobsvc_methods():
        scope = required_scope(method)
        if method.containing_service.name == "AckService":
            assert scope == "work", method.full_name
        elif method.name in expected:
            assert scope == expected[method.name], method.full_name


async def test_a_method_without_a_scope_stops_the_server_from_starting() -> None:
    """Deny by default: registering a service whose method declares no scope fails."""
    health_service = health_pb2.DESCRIPTOR.services_by_name["Health"]
    server = grpc.aio.server()
    for authenticator in (Authenticator([]), Authenticator(tokens_from_toml(_toml("a", ["read"], "x")))):
        with pytest.raises(ValueError, match="declares no"):
            add_service(server, health.aio.HealthServicer(), health_service, authenticator.guard)


async def test_health_is_open_and_reflection_needs_a_token(auth_server: JobsvcServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{auth_server.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", *SERVICE_NAMES):
            response = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert response == health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        for metadata, code in (((), Code.UNAUTHENTICATED), (bearer(WRONG), Code.UNAUTHENTICATED)):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                async for _ in reflection.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=5):
                    pass
            assert caught.value.code() == code
        # Any valid token will do.
        responses = [
            r
            async for r in reflection.ServerReflectionInfo(
                iter([request]), metadata=bearer(SECRETS["only-work"]), timeout=5
            )
        ]
        listed = {s.name for s in responses[0].list_services_response.service}
        assert set(SERVICE_NAMES) <= listed


async def test_the_client_sends_its_token(auth_server: JobsvcServer) -> None:
    target = f"127.0.0.1:{auth_server.port}"
    async with Client(target, security=ClientSecurity(token=SECRETS["everything"])) as client:
        job = await client.call("echo", {"a": 1}, timeout=30)
        assert (await client.get(job.id)).id == job.id
    async with Client(target, security=ClientSecurity(token=SECRETS["only-read"])) as client:
        await client.handlers()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.submit("echo", 1, timeout=10)
        assert caught.value.code() == Code.PERMISSION_DENIED


async def test_an_open_server_warns_once(start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await start_server()
    warnings = [r for r in caplog.records if "authentication is off" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


# -- token configuration -----------------------------------------------------------------


def _toml(name: str, scopes: list[str], secret: str) -> str:
    return f'[tokens.{name}]\nsha256 = "{token_digest(secret)}"\nscopes = {json.dumps(scopes)}\n'


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('[tokens.a]\nsha256 = "abc"\nscopes = ["read"]\n', "64 hex digits"),
        (_toml("a", ["root"], "x"), "unknown scope"),
        (_toml("a", [], "x"), "non-empty list"),
        (_toml("a", ["read"], "x").replace("scopes", "scope"), "exactly the keys"),
        (_toml("a", ["read"], "x").replace("[tokens.a]", "[token.a]"), "unknown table"),
        ("[tokens.a\n", "not valid TOML"),
        (_toml("a b", ["read"], "x").replace("tokens.a b", 'tokens."a b"'), "a name is"),
    ],
)
def test_bad_token_files_are_refused(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        tokens_from_toml(text)


def test_token_configuration_refuses_duplicates(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens.toml"
    tokens_file.write_text(_toml("ci", ["submit"], "one"))
    with pytest.raises(ValueError, match="configured twice"):
        AuthConfig(tokens_file=tokens_file, tokens=f"ci:read:{token_digest('two')}").load()
    with pytest.raises(ValueError, match="share one secret"):
        AuthConfig(tokens_file=tokens_file, tokens=f"other:read:{token_digest('one')}").load()
    with pytest.raises(ValueError, match="NAME:SCOPE"):
        AuthConfig(tokens="ci:read").load()
    both = AuthConfig(tokens_file=tokens_file, tokens=f"reader:read:{token_digest('two')}").load()
    assert {t.name: t.scopes for t in both} == {"ci": {"submit"}, "reader": {"read"}}


@pytest.mark.slow
def test_token_commands_make_a_usable_tokens_file() -> None:
    made = jobsvc_cli("token", "new", "deployer", "--scope", "submit", "--scope", "read", server="unused")
    assert made.returncode == 0, made.stderr
    secret = made.stderr.strip().splitlines()[-1]
    [token] = tokens_from_toml(made.stdout)
    assert token.name == "deployer" and token.scopes == {"submit", "read"}
    assert Authenticator([token]).authenticate(bearer(secret), "read") == "deployer"
    hashed = jobsvc_cli("token", "hash", server="unused", stdin=secret + "\n")
    assert hashed.stdout.strip() == token_digest(secret) == token.digest.hex()


# -- TLS ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_ca: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # signed by a CA the server does not trust
    stranger_key: Path


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    folder = tmp_path_factory.mktemp("certs")
    ca, client_ca, stranger_ca = trustme.CA(), trustme.CA(), trustme.CA()

    def leaf(issuer: trustme.CA, name: str, *identities: str) -> tuple[Path, Path]:
        cert = issuer.issue_cert(*identities)
        cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
        cert_path.write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))
        cert.private_key_pem.write_to_path(str(key_path))
        return cert_path, key_path

    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    client_ca.cert_pem.write_to_path(str(folder / "client-ca.pem"))
    server_cert, server_key = leaf(ca, "server", "127.0.0.1", "localhost")
    client_cert, client_key = leaf(client_ca, "client", "worker-1.jobsvc.test")
    stranger_cert, stranger_key = leaf(stranger_ca, "stranger", "stranger.jobsvc.test")
    return Certs(
        folder / "ca.pem",
        server_cert,
        server_key,
        folder / "client-ca.pem",
        client_cert,
        client_key,
        stranger_cert,
        stranger_key,
    )


async def _answers(target: str, security: ClientSecurity) -> grpc.StatusCode:
    """OK if a client with this security gets an answer from the server, else the error code."""
    async with Client(target, security=security) as client:
        try:
            await client.handlers(timeout=5)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return Code.OK


async def test_tls(start_server: StartServer, certs: Certs) -> None:
    server = await start_server(tls=TlsConfig(cert=certs.server_cert, key=certs.server_key))
    target = f"127.0.0.1:{server.port}"
    assert await _answers(target, ClientSecurity(ca=certs.ca)) == Code.OK
    assert await _answers(target, ClientSecurity()) == Code.UNAVAILABLE  # plaintext
    assert await _answers(target, ClientSecurity(ca=certs.client_ca)) == Code.UNAVAILABLE  # trusts another CA
    # The name in the certificate is checked: localhost is in it, other.example is not.
    assert await _answers(f"localhost:{server.port}", ClientSecurity(ca=certs.ca)) == Code.OK
    assert await _answers(target, ClientSecurity(ca=certs.ca, server_name="other.example")) == Code.UNAVAILABLE


async def test_mutual_tls(start_server: StartServer, certs: Certs) -> None:
    tls = TlsConfig(cert=certs.server_cert, key=certs.server_key, client_ca=certs.client_ca)
    server = await start_server(tls=tls)
    target = f"127.0.0.1:{server.port}"
    assert await _answers(target, ClientSecurity(ca=certs.ca, cert=certs.client_cert, key=certs.client_key)) == Code.OK
    assert await _answers(target, ClientSecurity(ca=certs.ca)) == Code.UNAVAILABLE  # no client certificate
    stranger = ClientSecurity(ca=certs.ca, cert=certs.stranger_cert, key=certs.stranger_key)
    assert await _answers(target, stranger) == Code.UNAVAILABLE
    assert await _answers(target, ClientSecurity()) == Code.UNAVAILABLE


async def test_half_a_tls_configuration_is_refused(start_server: StartServer, certs: Certs) -> None:
    with pytest.raises(ValueError, match="need --tls-cert"):
        await start_server(tls=TlsConfig(key=certs.server_key))
    with pytest.raises(ValueError, match="both a certificate"):
        await start_server(tls=TlsConfig(cert=certs.server_cert))


# -- end to end: jobsvc serve, jobsvc worker and the CLI over mutual TLS with tokens ---------------


@pytest.fixture
def secure_server(database_url: str, certs: Certs, tmp_path: Path) -> Iterator[ServerProcess]:
    tokens_file = tmp_path / "tokens.toml"
    tokens_file.write_text(
        "".join(_toml(name, _scopes_of(name), SECRETS[name]) for name in ("only-work", "everything", "only-read"))
    )
    port = free_port()
    command = [
        *(sys.executable, "-m", "jobsvc.cli", "--log-level", "DEBUG", "serve"),
        *("--host", "127.0.0.1", "--port", str(port), "--database-url", database_url),
        *("--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key)),
        *("--tls-client-ca", str(certs.client_ca), "--auth-file", str(tokens_file)),
    ]
    server = ServerProcess(command, port)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_worker_and_cli_over_mutual_tls_with_tokens(secure_server: ServerProcess, certs: Certs) -> None:
    tls_env = {
        "JOBSVC_TLS_CA": str(certs.ca),
        "JOBSVC_TLS_CERT": str(certs.client_cert),
        "JOBSVC_TLS_KEY": str(certs.client_key),
    }
    worker_command = [
        *(sys.executable, "-m", "jobsvc.cli", "--log-level", "DEBUG", "worker"),
        *("--server", secure_server.address, "--handlers", "tests.handlers", "--worker-id", "tls-worker"),
        *("--tls-ca", str(certs.ca), "--tls-cert", str(certs.client_cert), "--tls-key", str(certs.client_key)),
    ]
    worker = ServerProcess(
        worker_command, secure_server.port, env={**subprocess_env(), "JOBSVC_TOKEN": SECRETS["only-work"]}
    )
    try:
        worker.wait_for("worker tls-worker connected")
        caller = {**tls_env, "JOBSVC_TOKEN": SECRETS["everything"]}
        called = jobsvc_cli("call", "greet", '{"name": "tls"}', server=secure_server.address, env=caller)
        assert called.returncode == 0, called.stderr + secure_server.output + worker.output
        job = json.loads(called.stdout)
        assert job["result"]["json"] == "hello, tls"
        watched = jobsvc_cli("watch", job["id"], "--json", server=secure_server.address, env=caller)
        started = json.loads(watched.stdout.splitlines()[1])["started"]
        assert started["executor"].startswith("worker:tls-worker:")  # run by the remote worker
        # The token given as a flag wins over the environment.
        as_reader = jobsvc_cli(
            "jobs", "cancel", job["id"], "--token", SECRETS["only-read"], server=secure_server.address, env=caller
        )
        assert as_reader.returncode == 2 and "PERMISSION_DENIED" in as_reader.stderr
        wrong = jobsvc_cli(
            "jobs", "get", job["id"], server=secure_server.address, env={**tls_env, "JOBSVC_TOKEN": WRONG}
        )
        assert wrong.returncode == 2 and "UNAUTHENTICATED" in wrong.stderr
        health = jobsvc_cli("health", server=secure_server.address, env=tls_env)  # no token needed
        assert health.returncode == 0 and health.stdout.strip() == "SERVING", health.stderr
        no_cert = jobsvc_cli(
            "health", "--timeout", "2", server=secure_server.address, env={"JOBSVC_TLS_CA": str(certs.ca)}
        )
        assert no_cert.returncode == 1
        assert worker.terminate() == 0
    finally:
        worker.stop()
    secure_server.terminate()
    assert "authentication on; tokens: only-work (work), everything (admin call" in secure_server.output
    assert "TLS on (client certificates required)" in secure_server.output
    assert "refused /jobsvc.v1.JobService/CancelJob" in secure_server.output  # refusals are logged...
    for secret in (*SECRETS.values(), WRONG):  # ...but no token ever is
        assert secret not in secure_server.output
        assert secret not in worker.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--auth-tokens", "ci:read"], "expected NAME:SCOPE"),
        (["--auth-tokens", f"ci:root:{token_digest('x')}"], "unknown scope"),
        (["--auth-file", "/nonexistent/tokens.toml"], "No such file"),
        (["--tls-client-ca", "/nonexistent/ca.pem"], "need --tls-cert"),
        (["--tls-cert", "/nonexistent/server.pem", "--tls-key", "/nonexistent/server.key"], "No such file"),
    ],
)
def test_serve_refuses_a_bad_security_configuration_in_one_line(args: list[str], complaint: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jobsvc.cli", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert complaint in done.stderr and "Traceback" not in done.stderr, done.stderr
