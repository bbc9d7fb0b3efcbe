"""One configuration surface (jobsvc.options through jobsvc.cli): command line >
environment > TOML file > default, for every long option of serve, worker and migrate,
including options the layer has never heard of."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from jobsvc import options
from jobsvc.cli import build_parser, config_reference, main, parse_args, server_config
from jobsvc.cli.config import client_security, observability_config, worker_config
from jobsvc.observability import ObservabilityConfig
from jobsvc.sdk import ClientSecurity, WorkerConfig
from jobsvc.server import DEFAULT_DRAIN_DELAY, DEFAULT_HTTP_PORT, ServerConfig
from tests.conftest import REPO


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


# flag, dest, (file value as TOML, env value, command-line value), expected (file, env, flag)
CASES = [
    ("--port", "port", ("6000", "7000", "8000"), (6000, 7000, 8000)),
    ("--shutdown-grace", "shutdown_grace", ("2.5", "3", "4.5"), (2.5, 3.0, 4.5)),
    ("--data-dir", "data_dir", ('"/f"', "/e", "/c"), (Path("/f"), Path("/e"), Path("/c"))),
    ("--handlers", "handlers", ('["f.a", "f.b"]', "e.a,e.b", "c.a"), (["f.a", "f.b"], ["e.a", "e.b"], ["c.a"])),
    ("--max-payload-bytes", "max_payload_bytes", ("1000", "2000", "3000"), (1000, 2000, 3000)),
]


@pytest.mark.parametrize(("flag", "dest", "given", "expected"), CASES)
def test_flag_beats_env_beats_file_beats_default(
    tmp_path: Path, flag: str, dest: str, given: tuple[str, str, str], expected: tuple[object, object, object]
) -> None:
    file_value, env_value, flag_value = given
    key = flag[2:].replace("-", "_")
    env = options.env_name(flag)
    config = write(tmp_path / "c.toml", f"{key} = {file_value}\n")
    default = getattr(parse_args(["serve"], {}), dest)
    from_file = getattr(parse_args(["serve", "--config", config], {}), dest)
    from_env = getattr(parse_args(["serve", "--config", config], {env: env_value}), dest)
    from_flag = getattr(parse_args(["serve", "--config", config, flag, flag_value], {env: env_value}), dest)
    assert (from_file, from_env, from_flag) == expected
    assert default not in expected


def test_a_flag_equal_to_its_default_still_beats_the_environment() -> None:
    args = parse_args(["serve", "--port", "50051"], {"JOBSVC_PORT": "7000"})
    assert args.port == 50051


def test_switches_from_env_and_file(tmp_path: Path) -> None:
    assert parse_args(["serve"], {}).keepalive_permit_without_calls is True
    env = {"JOBSVC_KEEPALIVE_PERMIT_WITHOUT_CALLS": "false"}
    assert parse_args(["serve"], env).keepalive_permit_without_calls is False
    config = write(tmp_path / "c.toml", "keepalive-permit-without-calls = false\n")
    assert parse_args(["serve", "--config", config], {}).keepalive_permit_without_calls is False
    flagged = parse_args(["serve", "--config", config, "--keepalive-permit-without-calls"], {})
    assert flagged.keepalive_permit_without_calls is True


def test_the_documented_environment_names_keep_working() -> None:
    env = {
        "JOBSVC_DATABASE_URL": "postgresql://u@db/jobs",
        "JOBSVC_DATA_DIR": "/data",
        "JOBSVC_HOST": "127.0.0.2",
        "JOBSVC_PORT": "6001",
        "JOBSVC_SERVER": "balancer:443",
        "JOBSVC_LOG_LEVEL": "DEBUG",
    }
    serve = parse_args(["serve"], env)
    assert (serve.database_url, serve.data_dir, serve.host, serve.port) == (
        "postgresql://u@db/jobs",
        Path("/data"),
        "127.0.0.2",
        6001,
    )
    assert serve.log_level == "DEBUG"
    assert parse_args(["migrate"], env).database_url == "postgresql://u@db/jobs"
    assert parse_args(["worker", "--handlers", "m"], env).worker_server == "balancer:443"
    assert parse_args(["health"], env).server == "balancer:443"
    assert parse_args(["call", "echo"], env).server == "balancer:443"
    assert parse_args(["call", "echo", "--server", "cli:1"], env).server == "cli:1"


def test_client_commands_ignore_environment_for_their_own_options() -> None:
    args = parse_args(["call", "echo"], {"JOBSVC_VERSION": "9.9.9", "JOBSVC_TIMEOUT": "1", "JOBSVC_PRIORITY": "5"})
    assert (args.version, args.timeout, args.priority) == ("", None, 0)


def test_config_file_from_the_environment(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "concurrency = 3\n")
    assert parse_args(["serve"], {"JOBSVC_CONFIG": config}).concurrency == 3
    assert parse_args(["worker", "--handlers", "m"], {"JOBSVC_CONFIG": config}).concurrency == 3


def _error(argv: list[str], env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv, env)
    assert exited.value.code == 2
    return capsys.readouterr().err


def test_errors_name_the_key_or_variable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unknown = write(tmp_path / "unknown.toml", "port = 1\nmax_conections = 5\n")
    assert "unknown key 'max_conections'" in _error(["serve", "--config", unknown], {}, capsys)
    # A worker does not know serve's options.
    serve_only = write(tmp_path / "serve.toml", "drain_delay = 1\n")
    assert "unknown key 'drain_delay'" in _error(["worker", "--handlers", "m", "--config", serve_only], {}, capsys)
    assert "JOBSVC_PORT" in _error(["serve"], {"JOBSVC_PORT": "eighty"}, capsys)
    wrong_type = write(tmp_path / "type.toml", 'port = "eighty"\n')
    err = _error(["serve", "--config", wrong_type], {}, capsys)
    assert "type.toml" in err and "port" in err
    not_integer = write(tmp_path / "float.toml", "port = 80.5\n")
    assert "expected an integer" in _error(["serve", "--config", not_integer], {}, capsys)
    switch = {"JOBSVC_KEEPALIVE_PERMIT_WITHOUT_CALLS": "maybe"}
    assert "expected true or false" in _error(["serve"], switch, capsys)
    twice = write(tmp_path / "twice.toml", "pool_size = 1\npool-size = 2\n")
    assert "given twice" in _error(["serve", "--config", twice], {}, capsys)
    broken = write(tmp_path / "broken.toml", "port = \n")
    assert "not valid TOML" in _error(["serve", "--config", broken], {}, capsys)
    assert "cannot read config file" in _error(["serve", "--config", str(tmp_path / "missing.toml")], {}, capsys)


def test_a_required_option_may_come_from_the_environment_or_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert parse_args(["worker"], {"JOBSVC_HANDLERS": "a.b"}).handlers == ["a.b"]
    config = write(tmp_path / "w.toml", 'handlers = ["c.d"]\n')
    assert parse_args(["worker", "--config", config], {}).handlers == ["c.d"]
    assert "--handlers is required" in _error(["worker"], {}, capsys)


def test_options_added_elsewhere_are_covered_without_knowing_them(tmp_path: Path) -> None:
    """What plain argparse options added by other modules get for free (names no real flag uses)."""
    parser = build_parser()
    serve = options.subcommands(parser)["serve"]
    serve.add_argument("--probe-port", type=int, default=0)
    serve.add_argument("--probe-token-file", type=Path, default=None)
    serve.add_argument("--probe-json", action="store_true")
    serve.add_argument("--probe-exporter", choices=["none", "otlp"], default="none")
    config = write(tmp_path / "c.toml", 'probe-port = 9100\nprobe_exporter = "otlp"\n')
    env = {"JOBSVC_PROBE_TOKEN_FILE": "/run/token", "JOBSVC_PROBE_JSON": "1"}
    args = options.parse(parser, ["serve", "--config", config], env, layered=["serve"])
    assert (args.probe_port, args.probe_token_file, args.probe_json, args.probe_exporter) == (
        9100,
        Path("/run/token"),
        True,
        "otlp",
    )
    with pytest.raises(SystemExit):
        options.parse(build_parser_with_choice(), ["serve"], {"JOBSVC_PROBE_EXPORTER": "zipkin"}, layered=["serve"])
    shown = options.render_toml(args.effective_config, "jobsvc serve")
    assert 'probe_token_file = "<redacted>"' in shown and "/run/token" not in shown


def build_parser_with_choice() -> argparse.ArgumentParser:
    parser = build_parser()
    options.subcommands(parser)["serve"].add_argument("--probe-exporter", choices=["none", "otlp"], default="none")
    return parser


def test_print_config_is_a_config_file_with_secrets_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBSVC_DATABASE_URL", "postgresql://jobsvc:s3cret@db:5432/jobs")
    monkeypatch.setenv("JOBSVC_DRAIN_DELAY", "7")
    assert main(["serve", "--port", "6000", "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert "s3cret" not in printed
    assert 'database_url = "postgresql://jobsvc:<redacted>@db:5432/jobs"  # env JOBSVC_DATABASE_URL' in printed
    assert "port = 6000  # command line" in printed and "drain_delay = 7.0  # env JOBSVC_DRAIN_DELAY" in printed
    assert "# data_dir is not set (default)" in printed
    values = tomllib.loads(printed)
    # What it prints, given back as a file, is the same configuration.
    monkeypatch.delenv("JOBSVC_DATABASE_URL")
    monkeypatch.delenv("JOBSVC_DRAIN_DELAY")
    config = write(tmp_path / "printed.toml", printed)
    again = vars(parse_args(["serve", "--config", config], {}))
    for key, value in values.items():
        if value != "<redacted>" and not isinstance(again[key], Path):
            assert again[key] == value, key


def test_the_readme_tables_match_the_parser() -> None:
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"<!-- config-table (\S+) -->\n(.*?)<!-- /config-table -->", readme, re.DOTALL)
    assert {command for command, _ in blocks} == {"serve", "worker", "jobsvc"}
    for command, table in blocks:
        assert table.strip() == config_reference(command), f"README table of {command} is stale: scripts/readme-config"


def test_the_payload_limit_reaches_the_server_and_one_too_large_for_the_messages_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = server_config(parse_args(["serve"], {"JOBSVC_MAX_PAYLOAD_BYTES": "65536"}))
    assert config.connection.limits.payload == 65536
    default = server_config(parse_args(["serve"], {})).connection
    assert default.max_payload_bytes is None and default.limits.payload == 7 * default.max_message_bytes // 16
    # Input and result, each up to the payload limit, must fit in one message with the rest.
    assert main(["serve", "--max-message-bytes", "65536", "--max-payload-bytes", "40000"]) == 2
    assert "--max-payload-bytes must be 1..28672 with --max-message-bytes 65536" in capsys.readouterr().err


# -- every default written once: the parser's defaults are the config dataclasses' defaults ----

WORKER = ["worker", "--handlers", "m"]
# Options of `jobsvc worker` that are arguments of run_worker, not fields of a config.
WORKER_ARGUMENTS = {"--server", "--handlers"}
# Options of serve that are not one server's: how many servers (jobsvc.cli.commands.processes).
SERVE_ARGUMENTS = {"--processes"}


def _differences(built: Any, default: Any, path: str = "") -> dict[str, tuple[Any, Any]]:
    """Fields (dotted paths into nested configs) where two configs disagree: built, default."""
    found: dict[str, tuple[Any, Any]] = {}
    for field in dataclasses.fields(default):
        mine, theirs = getattr(built, field.name), getattr(default, field.name)
        if dataclasses.is_dataclass(theirs) and not isinstance(theirs, type):
            found.update(_differences(mine, theirs, f"{path}{field.name}."))
        elif mine != theirs:
            found[f"{path}{field.name}"] = (mine, theirs)
    return found


def _serve_config(environ: dict[str, str]) -> ServerConfig:
    # name is made per instance (host, pid, random), not by an option: left out.
    return dataclasses.replace(server_config(parse_args(["serve"], environ)), name="")


def _worker_configs(environ: dict[str, str]) -> tuple[WorkerConfig, ObservabilityConfig]:
    args = parse_args(WORKER, environ)
    return worker_config(args), observability_config(args)


def test_the_parser_defaults_are_the_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """An option not given leaves its config field at the dataclass's default; the one
    deliberate exceptions are serve's drain delay (0 in ServerConfig, for embedded servers) and
    HTTP port (off in ServerConfig: embedded servers and tests serve no HTTP unless asked)."""
    assert _differences(_serve_config({}), ServerConfig(name="")) == {
        "drain_delay": (DEFAULT_DRAIN_DELAY, 0.0),
        "http_port": (DEFAULT_HTTP_PORT, None),
    }
    worker, observability = _worker_configs({})
    assert _differences(worker, WorkerConfig()) == {}  # worker_id: host:pid of this process in both
    assert _differences(observability, ObservabilityConfig()) == {}
    for name in [name for name in os.environ if name.startswith(options.ENV_PREFIX)]:
        monkeypatch.delenv(name)
    assert _differences(client_security(parse_args(["call", "echo"], {})), ClientSecurity()) == {}


def _another_value(action: argparse.Action) -> str:
    """An environment value for the option that is not its default."""
    if action.nargs == 0:
        return "false" if action.default else "true"
    if action.choices:
        return next(str(choice) for choice in action.choices if choice != action.default)
    if action.type is int:
        return str((action.default or 0) + 1)
    if action.type is float:
        return str((action.default or 0.0) + 0.5)
    return "/elsewhere"  # strings, paths and modules


def _layered_options(command: str) -> dict[str, argparse.Action]:
    return dict(options.layered_actions(options.subcommands(build_parser())[command]))


@pytest.mark.parametrize("flag", [flag for flag in _layered_options("serve") if flag not in SERVE_ARGUMENTS])
def test_every_serve_option_sets_a_server_config_field(flag: str) -> None:
    """So the defaults test above covers every option of serve."""
    value = _another_value(_layered_options("serve")[flag])
    changed = _differences(_serve_config({options.env_name(flag): value}), _serve_config({}))
    assert changed, f"{flag} changes nothing in the ServerConfig"


@pytest.mark.parametrize("flag", [flag for flag in _layered_options("worker") if flag not in WORKER_ARGUMENTS])
def test_every_worker_option_sets_a_config_field(flag: str) -> None:
    """So the defaults test above covers every option of worker but those run_worker takes as arguments."""
    value = _another_value(_layered_options("worker")[flag])
    given, default = _worker_configs({options.env_name(flag): value}), _worker_configs({})
    changed = {**_differences(given[0], default[0]), **_differences(given[1], default[1])}
    assert changed, f"{flag} changes nothing in the WorkerConfig or the ObservabilityConfig"


def test_an_option_is_known_only_by_its_whole_name(capsys: pytest.CaptureFixture[str]) -> None:
    """`serve --listen ADDRESS` (no such option) once set --listen-database-url, argparse's
    prefix matching, and the server then failed to reach a database named by an address.
    Every command, the nested ones too, refuses a prefix as an unknown option."""
    assert "unrecognized arguments: --listen" in _error(["serve", "--listen", "127.0.0.1:8000"], {}, capsys)
    assert "unrecognized arguments: --hand" in _error(["worker", "--hand", "m"], {}, capsys)
    assert "unrecognized arguments: --page" in _error(["jobs", "list", "--page", "5"], {}, capsys)
    assert "unrecognized arguments: --serv" in _error(["jobs", "list", "--serv", "x:1"], {}, capsys)
    assert parse_args(["serve", "--listen-database-url", "postgresql://h/d"], {}).listen_database_url == (
        "postgresql://h/d"
    )


def test_processes_take_a_count_or_auto(capsys: pytest.CaptureFixture[str]) -> None:
    """--processes N (JOBSVC_PROCESSES, `processes` in the file too); auto is the CPUs this
    process may use; 0 or a word is refused naming what is expected."""
    assert parse_args(["serve"], {}).processes == 1
    assert parse_args(["serve", "--processes", "3"], {}).processes == 3
    assert parse_args(["serve"], {"JOBSVC_PROCESSES": "2"}).processes == 2
    assert parse_args(["serve", "--processes", "auto"], {}).processes == len(os.sched_getaffinity(0))
    assert "at least 1 process" in _error(["serve", "--processes", "0"], {}, capsys)
    assert "number of processes or 'auto'" in _error(["serve", "--processes", "many"], {}, capsys)
