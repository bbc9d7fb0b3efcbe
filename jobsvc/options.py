"""One configuration surface for argparse commands: command line, environment, TOML file.

Every long option `--foo-bar` of a layered command can also be given as the
environment variable `JOBSVC_FOO_BAR` or as the key `foo_bar` (or `foo-bar`) of the
TOML file named by `--config FILE` or `JOBSVC_CONFIG`. Precedence: command line >
environment > file > the option's default. Nothing here knows the options: it reads
them from the parser, so an option added anywhere is covered.
"""

from __future__ import annotations

import argparse
import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ENV_PREFIX = "JOBSVC_"
CONFIG_ENV = f"{ENV_PREFIX}CONFIG"
# Options of the layer itself: never read from the environment or a file.
OWN_OPTIONS = frozenset({"--help", "--config", "--print-config"})
# An option whose name contains one of these is printed redacted.
SECRET_WORDS = ("token", "key", "password", "secret")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


class _Unset:
    """Stands in for a default while finding out which options the command line gave."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET = _Unset()


@dataclass(frozen=True)
class Setting:
    """One option's effective value and where it came from."""

    name: str  # the file key: foo_bar
    flag: str  # --foo-bar
    env: str  # JOBSVC_FOO_BAR
    value: Any
    source: str  # "command line", "env JOBSVC_FOO_BAR", "file PATH" or "default"

    @property
    def secret(self) -> bool:
        """Whether the value must not be shown."""
        return any(word in self.name for word in SECRET_WORDS)


def long_flag(action: argparse.Action) -> str | None:
    """The option's first long name (--foo-bar), or None for positionals and short-only options."""
    return next((o for o in action.option_strings if o.startswith("--")), None)


def env_name(flag: str) -> str:
    """--foo-bar -> JOBSVC_FOO_BAR."""
    return ENV_PREFIX + flag[2:].upper().replace("-", "_")


def key_name(flag: str) -> str:
    """--foo-bar -> foo_bar."""
    return flag[2:].replace("-", "_")


def layered_actions(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    """(long flag, action) of every option of parser the layer covers."""
    found = []
    for action in parser._actions:  # argparse has no public list of a parser's options
        flag = long_flag(action)
        if flag is not None and flag not in OWN_OPTIONS and action.default is not argparse.SUPPRESS:
            found.append((flag, action))
    return found


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Command name -> its parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


class ConfigError(Exception):
    """A value from the environment or the file that the option does not accept."""


def parse(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    environ: Mapping[str, str],
    *,
    layered: Iterable[str],
    command_dest: str = "command",
) -> argparse.Namespace:
    """Parse argv, then fill every option the command line did not give from the
    environment, then the config file. Commands not in `layered` take only the
    environment, and only for the options before the command (--server, --log-level).
    The effective settings are left in the namespace as `effective_config`."""
    commands = subcommands(parser)
    layered = set(layered)
    # A required option may come from the environment or the file: checked after layering.
    required = [(p, a) for name in layered for p in [commands[name]] for _, a in layered_actions(p) if a.required]
    for _, action in required:
        action.required = False
    try:
        args = parser.parse_args(argv)
        command = getattr(args, command_dest, None)
        scope = layered_actions(parser)
        file_values: dict[str, Any] = {}
        config_path: str | None = None
        if command in layered:
            scope = layered_actions(commands[command]) + scope
            config_path = getattr(args, "config", None) or environ.get(CONFIG_ENV) or None
            if config_path:
                file_values = _read_file(config_path, {key_name(flag) for flag, _ in scope}, parser)
        given = _given(parser, argv, [a for _, a in scope])
        layers = _Layers(environ, file_values, config_path)
        settings = []
        seen: set[str] = set()
        for flag, action in scope:
            try:
                setting = layers.resolve(flag, action, args, given)
            except ConfigError as exc:
                parser.error(str(exc))
            if setting.name not in seen:  # a command's --server shadows the global one
                seen.add(setting.name)
                settings.append(setting)
        for command_parser, action in required:
            if command_parser is commands.get(command or "") and getattr(args, action.dest, None) in (None, []):
                flag = long_flag(action) or action.dest
                command_parser.error(
                    f"{flag} is required (or {env_name(flag)}, or {key_name(flag)} in the --config file)"
                )
    finally:
        for _, action in required:
            action.required = True
    args.effective_config = settings
    return args


def _read_file(path: str, known: set[str], parser: argparse.ArgumentParser) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            raw = tomllib.load(file)
    except OSError as exc:
        parser.error(f"cannot read config file {path}: {exc.strerror}")
    except tomllib.TOMLDecodeError as exc:
        parser.error(f"config file {path} is not valid TOML: {exc}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in known:
            parser.error(f"config file {path}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        if name in values:
            parser.error(f"config file {path}: {key!r} is given twice")
        values[name] = value
    return values


def _given(parser: argparse.ArgumentParser, argv: Sequence[str] | None, actions: list[argparse.Action]) -> set[str]:
    """Dests the command line set: parse again with every default replaced by a marker."""
    saved = [(action, action.default) for action in actions]
    try:
        for action in actions:
            # Append/extend/count build on the default, so theirs must be None.
            action.default = None if _collects(action) else _UNSET
        again = parser.parse_args(argv)
    finally:
        for action, default in saved:
            action.default = default
    return {a.dest for a in actions if getattr(again, a.dest, _UNSET) not in (_UNSET, None)}


def _collects(action: argparse.Action) -> bool:
    return isinstance(action, argparse._AppendAction | argparse._ExtendAction | argparse._CountAction)


@dataclass(frozen=True)
class _Layers:
    """Where values not given on the command line come from, in order."""

    environ: Mapping[str, str]
    file_values: Mapping[str, Any]
    config_path: str | None

    def resolve(self, flag: str, action: argparse.Action, args: argparse.Namespace, given: set[str]) -> Setting:
        """Set the option's value in args from the first layer that has it."""
        name, env = key_name(flag), env_name(flag)
        if action.dest in given:
            source = "command line"
        elif env in self.environ:
            source = f"env {env}"
            setattr(args, action.dest, _convert(action, _from_env(action, self.environ[env]), source))
        elif name in self.file_values:
            source = f"file {self.config_path}"
            setattr(args, action.dest, _convert(action, self.file_values[name], f"{source}: {name}"))
        else:
            source = "default"
        return Setting(name, flag, env, getattr(args, action.dest, None), source)


def _takes_list(action: argparse.Action) -> bool:
    return _collects(action) or action.nargs in ("*", "+") or (isinstance(action.nargs, int) and action.nargs > 1)


def _from_env(action: argparse.Action, text: str) -> Any:
    """An environment value as the file would give it: lists are comma-separated."""
    if _takes_list(action) and not isinstance(action, argparse._CountAction):
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def _convert(action: argparse.Action, value: Any, where: str) -> Any:
    """The value the option would hold had it been given on the command line."""
    if action.nargs == 0:  # store_true / store_false / store_const / BooleanOptionalAction
        on = _boolean(value, where)
        if isinstance(action, argparse.BooleanOptionalAction):
            return on
        return action.const if on else action.default
    if isinstance(action, argparse._CountAction):
        return _one(action, value, where, int)
    if _takes_list(action):
        items = value if isinstance(value, list) else [value]
        return [_one(action, item, where, action.type) for item in items]
    return _one(action, value, where, action.type)


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _one(action: argparse.Action, value: Any, where: str, kind: Any) -> Any:
    if isinstance(value, bool | dict | list):
        raise ConfigError(f"{where}: expected a single value, got {value!r}")
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if kind is None and not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    try:
        converted = kind(value if isinstance(value, str | int | float) else str(value)) if kind else value
    except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
        raise ConfigError(f"{where}: invalid value {value!r} for {long_flag(action)}: {exc}") from None
    if action.choices is not None and converted not in action.choices:
        choices = ", ".join(map(repr, action.choices))
        raise ConfigError(f"{where}: {converted!r} is not one of {choices}")
    return converted


# -- showing the configuration ---------------------------------------------------------


def render_toml(settings: Sequence[Setting], title: str) -> str:
    """The effective settings as a TOML file that --config accepts (secrets redacted)."""
    lines = [f"# {title}: effective configuration (command line > environment > file > default)"]
    for setting in settings:
        if setting.value is None:
            lines.append(f"# {setting.name} is not set ({setting.source})")
        elif setting.secret:
            lines.append(f'{setting.name} = "<redacted>"  # {setting.source}')
        else:
            lines.append(f"{setting.name} = {_toml_value(_without_password(setting.value))}  # {setting.source}")
    return "\n".join(lines) + "\n"


def _without_password(value: Any) -> Any:
    """A URL's password (postgresql://user:secret@host/db) is a secret too."""
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":<redacted>@", 1)
            return urlunsplit(parts._replace(netloc=netloc))
    return value


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(str(value))


def markdown_table(actions: Sequence[tuple[str, argparse.Action]]) -> str:
    """A Markdown table of options: flag, environment variable, default, meaning."""
    rows = ["| flag | environment | default | meaning |", "|---|---|---|---|"]
    for flag, action in actions:
        meaning = (action.help or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{flag}` | `{env_name(flag)}` | {_shown_default(action)} | {meaning} |")
    return "\n".join(rows)


def _shown_default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    default = action.default
    if default is None or default == []:
        return "none"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, list):
        return ", ".join(f"`{v}`" for v in default)
    return f"`{default}`"
