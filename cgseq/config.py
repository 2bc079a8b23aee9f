"""Settings: each option declared once, with its flag, env var and config key.

Precedence: default < ``[tool.cgseq]`` in the project's pyproject.toml < ``CGSEQ_*`` env
< command-line flag. Every value remembers where it came from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from cgseq import units
from cgseq.errors import UsageError

Parser = Callable[[str, str], Any]


def _choice(*allowed: str) -> Parser:
    def parse(text: str, what: str) -> str:
        if text not in allowed:
            raise UsageError(f"invalid {what} {text!r}: expected one of {', '.join(allowed)}")
        return text

    return parse


def _retries(text: str, what: str) -> int:
    if not text.strip().isdigit():
        raise UsageError(f"invalid {what} {text!r}: expected a whole number (0 or more)")
    return int(text)


def _flag(text: str, what: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"invalid {what} {text!r}: expected true or false")


def _text(text: str, what: str) -> str | None:
    return text or None


class Option(NamedTuple):
    name: str  # also the config key and the env suffix
    parse: Parser
    default: Any
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "CGSEQ_" + self.name.upper()


BACKENDS = ("auto", "systemd", "cgroup2", "cgroup1", "poll")

OPTIONS: tuple[Option, ...] = (
    Option("memory", units.parse_size, None, "memory limit of the whole job (512M, 2G, 1.5GiB)"),
    Option(
        "swap", units.parse_size, 0, "swap the job may use on top of --memory (kernel backends)"
    ),
    Option("pids", units.parse_count, None, "maximum number of processes in the job"),
    Option("timeout", units.parse_duration, None, "wall-time limit (90s, 10m, 1h)"),
    Option("kill_grace", units.parse_duration, 5.0, "time between SIGTERM and SIGKILL"),
    Option("backend", _choice(*BACKENDS), "auto", "how limits are enforced"),
    Option("lock", _text, None, "queue on a named slot instead of the project's"),
    Option("wait_timeout", units.parse_duration, None, "give up waiting for a turn after this"),
    Option(
        "leftovers",
        _choice("kill", "wait", "keep"),
        "kill",
        "what to do with processes left when the command exits",
    ),
    Option("retry", _retries, 0, "re-run a failed job up to N more times in the same turn"),
    Option("poll_interval", units.parse_duration, 0.1, "sampling interval of the poll backend"),
    Option("record", _flag, True, "keep history and the event log in the state dir"),
)
BY_NAME = {option.name: option for option in OPTIONS}


class Setting(NamedTuple):
    name: str
    value: Any
    source: str  # "default", "pyproject.toml [tool.cgseq]", "env CGSEQ_X", "--flag"

    def describe(self) -> str:
        return f"{self.name} = {self.value!r} (from {self.source})"


def resolve(project: str, cli: Mapping[str, str | None]) -> dict[str, Setting]:
    """Every option's effective value and where it came from."""
    layers = (
        (_pyproject_values(project), "{file} [tool.cgseq]"),
        ({o.name: os.environ[o.env] for o in OPTIONS if os.environ.get(o.env)}, "env {env}"),
        ({k: v for k, v in cli.items() if v is not None}, "{flag}"),
    )
    settings = {o.name: Setting(o.name, o.default, "default") for o in OPTIONS}
    pyproject = str(Path(project) / "pyproject.toml")
    for values, template in layers:
        for name, raw in values.items():
            option = BY_NAME[name]
            source = template.format(file=pyproject, env=option.env, flag=option.flag)
            settings[name] = Setting(name, _parse(option, raw, source), source)
    return settings


def _parse(option: Option, raw: object, source: str) -> Any:
    text = str(raw).lower() if isinstance(raw, bool) else str(raw)
    try:
        return option.parse(text, option.name.replace("_", "-"))
    except UsageError as exc:
        raise UsageError(f"{exc.message} (from {source})") from None


def _pyproject_values(project: str) -> dict[str, object]:
    path = Path(project) / "pyproject.toml"
    try:
        content = path.read_bytes()
    except OSError:
        return {}
    if b"[tool.cgseq]" not in content:  # skip the tomllib import on the hot path
        return {}
    import tomllib

    try:
        table = tomllib.loads(content.decode()).get("tool", {}).get("cgseq", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    unknown = sorted(set(table) - set(BY_NAME))
    if unknown:
        raise UsageError(
            f"{path} [tool.cgseq]: unknown key {unknown[0]!r}; known keys: {', '.join(BY_NAME)}"
        )
    return dict(table)
