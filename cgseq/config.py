"""Settings: each option declared once, with its flag, env var and config key.

An ``Option`` is the one declaration of a setting: its ``[tool.cgseq]`` key, its
``CGSEQ_*`` variable and its flag, the form its value takes (parser, the non-text types it
accepts, how a value is shown), its default and its help. The CLI's flags, ``cgseq config``
and ``resolve()`` for the Python API are all built from ``OPTIONS``.

Precedence: default < ``[tool.cgseq]`` in the project's pyproject.toml < ``CGSEQ_*`` env
< an explicit value (a command-line flag, an argument). Every value remembers where it
came from. A value is honoured or refused (exit 2, naming the option and where it came
from), never silently dropped.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from cgseq import units
from cgseq.errors import UsageError

Parser = Callable[[str, str], Any]

MIN_MEMORY = 1 << 20  # /bin/true runs in 256K, sh in 512K: less is a forgotten unit (1.5 bytes)
MAX_PIDS = 1 << 22  # PID_MAX_LIMIT on 64-bit: the pids controller refuses more (ERANGE)
MAX_RETRY = 1000  # each retry holds the project's turn: more is a loop, not a retry
MIN_POLL_INTERVAL = 0.01  # sampling every 1e-7 s burned 63% of a core
MAX_LOCK = 128  # characters: a label, and room for its slot name below NAME_MAX (255 bytes)
MAX_HISTORY_ROWS = 10_000_000  # ~40 GiB of timelines: more is a typo, not a history


class Form(NamedTuple):
    """How an option's value is written and shown.

    ``parse`` takes the text (a flag, an env var, a TOML string) and the option's name for
    messages; ``types`` are the other types a value may have (in TOML, or as a typed
    argument), each with how to name it; ``show`` writes a value for ``cgseq config``.
    """

    parse: Parser
    types: Mapping[type, str] = {}
    show: Callable[[Any], str] = str


# what a value may be besides text: in TOML, and as an argument to resolve()
_INTEGER: Mapping[type, str] = {int: "an integer"}
_SECONDS: Mapping[type, str] = {int: "an integer", float: "a float"}
_BOOLEAN: Mapping[type, str] = {bool: "a boolean"}


def _size(minimum: int) -> Form:
    def parse(text: str, what: str) -> int | None:
        return units.parse_size(text, what, minimum=minimum)

    return Form(parse, _INTEGER, units.format_size)


def _duration(minimum: float, unlimited: bool = True) -> Form:
    def parse(text: str, what: str) -> float | None:
        return units.parse_duration(text, what, minimum=minimum, unlimited=unlimited)

    return Form(parse, _SECONDS, lambda seconds: units.format_duration(float(seconds)))


def _count(minimum: int, maximum: int, unlimited: bool) -> Form:
    def parse(text: str, what: str) -> int | None:
        return units.parse_count(text, what, minimum=minimum, maximum=maximum, unlimited=unlimited)

    return Form(parse, _INTEGER)


def _choice(*allowed: str) -> Form:
    def parse(text: str, what: str) -> str:
        if text not in allowed:
            raise UsageError(
                f"invalid {what} {units.shown(text)}: expected one of {', '.join(allowed)}"
            )
        return text

    return Form(parse)


def _truth(text: str, what: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"invalid {what} {units.shown(text)}: expected true or false")


def _share(text: str, what: str) -> float | None:
    """A share of a limit: ``0.8`` or ``80%``, above 0 and at most 1; ``off``: none."""
    raw = text.strip(" \t\n\r\f\v").lower()  # ASCII spaces only, as units has it
    if raw in ("off", "none"):
        return None
    percent = raw.endswith("%")
    number = raw[:-1].rstrip(" \t") if percent else raw
    valid = re.fullmatch(r"[0-9]+(\.[0-9]+)?", number, re.ASCII) is not None
    share = float(number) / (100 if percent else 1) if valid else None
    if share is None or not 0 < share <= 1:
        raise UsageError(
            f"invalid {what} {units.shown(text)}: expected a share of the limit above 0 "
            "and at most 1 (0.8, 80%), or 'off'"
        )
    return share


def _lock(text: str, what: str) -> str:
    """A lock names a slot: some printable text, not an empty or invisible one."""
    if not text.strip():
        raise UsageError(f"invalid {what} {text!r}: a lock name must not be empty")
    if len(text) > MAX_LOCK:
        raise UsageError(
            f"invalid {what} {units.shown(text)}: must be at most {MAX_LOCK} characters"
        )
    if not text.isprintable():  # NUL, newline, tab, undecodable bytes (surrogates), ...
        raise UsageError(
            f"invalid {what} {text!r}: a lock name must be printable (no control characters)"
        )
    return text


class Switch(NamedTuple):
    """A flag that takes no value and stands for one: ``--no-record`` is ``record`` false."""

    flag: str
    value: object
    help: str


class Option(NamedTuple):
    """One setting, declared once: everything else is derived from these fields."""

    name: str  # the [tool.cgseq] key; also names the env var and the flag
    form: Form
    default: Any  # None: unlimited, or (lock) not set
    help: str
    switch: Switch | None = None  # its flag, if that takes no value

    @property
    def key(self) -> str:
        return self.name

    @property
    def env(self) -> str:
        return "CGSEQ_" + self.name.upper()

    @property
    def flag(self) -> str:
        return self.switch.flag if self.switch else "--" + self.label

    @property
    def label(self) -> str:
        """The option as messages name it: ``kill-grace``."""
        return self.name.replace("_", "-")

    @property
    def metavar(self) -> str:
        return self.name.upper()

    @property
    def parse(self) -> Parser:
        return self.form.parse

    def show(self, value: object) -> str:
        return "none" if value is None else self.form.show(value)


BACKENDS = ("auto", "systemd", "cgroup2", "cgroup1", "poll")

OPTIONS: tuple[Option, ...] = (
    Option(
        "memory",
        _size(MIN_MEMORY),
        None,
        "memory limit of the whole job (512M, 2G, 1.5GiB; at least 1M)",
    ),
    Option("swap", _size(0), 0, "swap the job may use on top of --memory (kernel backends)"),
    Option(
        "pids", _count(1, MAX_PIDS, unlimited=True), None, "maximum number of processes in the job"
    ),
    Option("timeout", _duration(0.001), None, "wall-time limit (90s, 10m, 1h)"),
    Option("kill_grace", _duration(0.0, unlimited=False), 5.0, "time between SIGTERM and SIGKILL"),
    Option("backend", _choice(*BACKENDS), "auto", "how limits are enforced"),
    Option("lock", Form(_lock), None, "queue on a named slot instead of the project's"),
    Option("wait_timeout", _duration(0.001), None, "give up waiting for a turn after this"),
    Option(
        "leftovers",
        _choice("kill", "wait", "keep"),
        "kill",
        "what to do with processes left when the command exits",
    ),
    Option(
        "retry",
        _count(0, MAX_RETRY, unlimited=False),
        0,
        "re-run a failed job up to N more times in the same turn",
    ),
    Option(
        "poll_interval",
        _duration(MIN_POLL_INTERVAL, unlimited=False),
        0.1,
        "sampling interval of the poll backend (at least 10ms)",
    ),
    Option(
        "history_max_rows",
        _count(1, MAX_HISTORY_ROWS, unlimited=True),
        10000,
        "jobs kept in the history database, the latest",
    ),
    Option(
        "history_max_age",
        _duration(1.0),
        90 * 86400.0,
        "how long a job stays in the history database (90d)",
    ),
    Option(
        "memory_warn_share",
        Form(_share, _SECONDS, lambda share: f"{share * 100:g}%"),
        0.8,
        "warn once when the job's memory reaches this share of --memory (80%, 0.9, off)",
    ),
    Option(
        "pytest_max_workers",
        _count(1, MAX_PIDS, unlimited=True),
        None,
        "most pytest-xdist workers '-n auto' starts (default: as many as --memory holds)",
    ),
    Option(
        "record",
        Form(_truth, _BOOLEAN),
        True,
        "keep history and the event log in the state dir",
        Switch("--no-record", False, "keep no history or event log for this job"),
    ),
)
BY_NAME = {option.name: option for option in OPTIONS}


class Setting(NamedTuple):
    name: str
    value: Any
    source: str  # "default", "pyproject.toml [tool.cgseq]", "env CGSEQ_X", "--flag"

    def describe(self) -> str:
        return f"{self.name} = {self.value!r} (from {self.source})"


FROM_FLAGS = "{flag}"  # where explicit values come from, for resolve(): the command line


def resolve(
    project: str, explicit: Mapping[str, object] = {}, *, given_as: str = FROM_FLAGS
) -> dict[str, Setting]:
    """Every option's effective value and where it came from.

    ``explicit`` holds this call's own values by option name, None for not given: text in
    the CLI's forms (``"2G"``, ``"10m"``) or typed as ``[tool.cgseq]`` takes them
    (``2 << 30``, ``600``, ``1.5``, ``False``). They are checked as the CLI checks them, with
    the same messages; ``given_as`` says where they came from (``{flag}``, ``{name}`` and
    ``{env}`` are filled in), ``"--memory"`` by default. Anything refused is a UsageError.
    """
    settings = {o.name: Setting(o.name, o.default, "default") for o in OPTIONS}
    settings.update(_from_pyproject(Path(project) / "pyproject.toml"))
    # an empty variable counts as unset, as shells and most tools treat it
    env = {o.name: os.environ[o.env] for o in OPTIONS if os.environ.get(o.env)}
    settings.update(_given(env, "env {env}"))
    settings.update(_given(explicit, given_as))
    return settings


def value_of(option: Option, raw: object, source: str, what: str | None = None) -> Any:
    """``raw`` (text, or one of the option's types) as the option's value, or a UsageError
    naming the option (as ``what``, by default its label) and ``source``."""
    what = what or option.label
    return _parse(option, _text(option, raw, source, what), source, what)


def _from_pyproject(path: Path) -> dict[str, Setting]:
    source = f"{path} [tool.cgseq]"
    values = _pyproject_values(path).items()  # the message names a key as it is written
    return {n: Setting(n, value_of(BY_NAME[n], raw, source, n), source) for n, raw in values}


def _given(values: Mapping[str, object], template: str) -> dict[str, Setting]:
    found = {}
    for name, raw in values.items():
        if raw is not None:
            option = _option(name)
            source = template.format(name=name, env=option.env, flag=option.flag)
            found[name] = Setting(name, value_of(option, raw, source), source)
    return found


def _option(name: str) -> Option:
    if name not in BY_NAME:
        raise UsageError(f"unknown option {name!r}; known options: {', '.join(BY_NAME)}")
    return BY_NAME[name]


def _parse(option: Option, text: str, source: str, what: str) -> Any:
    try:
        return option.parse(text, what)
    except UsageError as exc:
        raise UsageError(f"{exc.message} (from {source})") from None


def _pyproject_values(path: Path) -> dict[str, object]:
    """``[tool.cgseq]`` however the TOML spells it (``[tool.cgseq ]``, dotted keys, ...)."""
    content = _read(path)
    if not content.strip():  # none, or blank: no settings, and no tomllib import (~5 ms)
        return {}
    table = _cgseq_table(_toml(content, path), path)
    unknown = sorted(set(table) - set(BY_NAME))
    if unknown:
        raise UsageError(
            f"{path} [tool.cgseq]: unknown key {unknown[0]!r}; known keys: {', '.join(BY_NAME)}"
        )
    return dict(table)


def _read(path: Path) -> bytes:
    """The file's bytes, b"" when there is none; one that cannot be read is exit 2."""
    try:  # O_NONBLOCK: a FIFO named pyproject.toml must not hang every run
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # a device would never end, a directory holds no TOML
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise UsageError(f"cannot read {path}: it is {kind}")
        return _read_all(fd)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _toml(content: bytes, path: Path) -> dict[str, Any]:
    import tomllib  # only for a file with content: ~5 ms of imports (datetime, string)

    try:
        return tomllib.loads(content.decode())
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"cannot read {path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"invalid TOML in {path}: {exc}") from None


def _cgseq_table(document: dict[str, Any], path: Path) -> dict[str, Any]:
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise UsageError(f"{path}: 'tool' is {_kind(tool)}, not a table like [tool.cgseq]")
    table = tool.get("cgseq", {})
    if not isinstance(table, dict):
        raise UsageError(
            f"{path}: tool.cgseq is {_kind(table)}, not a table: "
            "put cgseq's settings under one [tool.cgseq] header"
        )
    return table


def _text(option: Option, raw: object, source: str, what: str) -> str:
    """A value as the text the option's parser takes; a type it does not take is exit 2."""
    if isinstance(raw, str):
        return raw
    if type(raw) not in option.form.types:  # exact type: a boolean is no integer here
        *others, last = ("a string", *option.form.types.values())
        allowed = f"{', '.join(others)} or {last}" if others else last
        shown = str(raw).lower() if isinstance(raw, bool) else str(raw)
        raise UsageError(
            f"invalid {what} {units.shown(shown)}: must be {allowed}, "
            f"not {_kind(raw)} (from {source})"
        )
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float):  # the parsers take no exponent: 1e-07 -> 0.0000001; inf, nan
        fixed = f"{raw:.15f}"
        return fixed.rstrip("0").rstrip(".") if "." in fixed else fixed
    return str(raw)


def _kind(value: object) -> str:
    """A value's type in TOML's words; an argument's other types by their Python name."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "an array of tables"
    kinds = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    kinds.update({list: "an array", dict: "a table"})
    if type(value) in kinds:
        return kinds[type(value)]
    if type(value).__module__ == "datetime":  # TOML's dates and times; no datetime import
        return "a date or time"
    return f"a Python {type(value).__name__}"  # an argument: resolve(..., {"memory": b"2G"})
