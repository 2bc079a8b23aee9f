"""Command shims: a ``pytest`` (``make``, ``mypy``, ...) in a directory put first on PATH that
runs the real one in the project's cgseq turn, for agents and habits that never type
``cgseq run --``.

A shim finds the real command as the shell would, on PATH in order, but skips every entry
that is the shim's own directory however PATH spells it (``-ef``: symlinks, ``..``, twice)
and every file carrying cgseq's marker (another shim directory), so that it never runs
itself. Not found: exit 127 with one line, as the shell's own "not found".
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import NamedTuple

from cgseq.errors import UsageError
from cgseq.integrations.scripts import (
    MARK,
    OWN_DIR,
    Change,
    carries_mark,
    exists,
    header,
    remove,
    run_in_turn,
    write_script,
)

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*")  # a command name, no path

_FIND = """\
REAL=
set -f  # PATH entries are names, not patterns
IFS=:
for dir in $PATH; do
    unset IFS
    candidate=${{dir:-.}}/$NAME
    [ -f "$candidate" ] && [ -x "$candidate" ] || continue
    [ "${{dir:-.}}" -ef "$HERE" ] && continue  # this shim's own directory, by any name
    second=
    if [ -r "$candidate" ]; then {{ read -r first && read -r second; }} < "$candidate"; fi
    case $second in "{mark}"*) continue ;; esac  # another cgseq shim: never a loop
    REAL=$candidate
    break
done
unset IFS
set +f
if [ -z "$REAL" ]; then
    echo "cgseq shim: $NAME: not found on PATH after $HERE" >&2
    exit 127
fi
set -- "$REAL" "$@"
"""


def shim_text(name: str) -> str:
    return (
        header("cgseq shims")
        + f"NAME={shlex.quote(name)}\n"
        + OWN_DIR
        + _FIND.format(mark=MARK)
        + run_in_turn(f"cgseq shim: {name}")
    )


def default_dir() -> Path:
    """``$XDG_DATA_HOME/cgseq/shims``, else ``~/.local/share/cgseq/shims``."""
    data = os.environ.get("XDG_DATA_HOME", "")
    base = Path(data) if os.path.isabs(data) else Path.home() / ".local" / "share"
    return base / "cgseq" / "shims"


def check_names(names: Sequence[str]) -> None:
    for name in names:
        if not _NAME.fullmatch(name) or name == "cgseq":
            raise UsageError(
                f"cannot shim {name!r}: a command name (no '/'), other than cgseq itself"
            )


def _check_dir(directory: Path) -> None:
    if directory.is_symlink():
        raise UsageError(
            f"{directory} is a symlink: cgseq does not write through one",
            hint="pass the directory it points to: --dir $(realpath DIR)",
        )
    if exists(directory) and not directory.is_dir():
        raise UsageError(f"{directory} is not a directory")


def plan_install(directory: Path, names: Sequence[str]) -> list[Change]:
    if not names:
        raise UsageError("name the commands to shim: cgseq shims install pytest mypy make")
    check_names(names)
    _check_dir(directory)
    changes = []
    if not exists(directory):
        make = partial(os.makedirs, directory, 0o755)
        changes.append(Change("shims", f"created {directory}", make))
    return changes + [_plan_one(directory, name) for name in dict.fromkeys(names)]


def _plan_one(directory: Path, name: str) -> Change:
    path = directory / name
    if exists(path) and not carries_mark(path):
        return Change(name, f"left alone: {path} is not cgseq's", refused=True)
    verb = "rewrote" if exists(path) else "installed"
    real = find_real(name, directory, os.environ.get("PATH", ""))
    runs = f"runs {real} in a cgseq turn" if real else f"not on PATH after {directory} yet"
    return Change(name, f"{verb} {path}: {runs}", partial(write_script, path, shim_text(name)))


def plan_uninstall(directory: Path, names: Sequence[str]) -> list[Change]:
    check_names(names)
    chosen = list(dict.fromkeys(names)) or installed(directory)
    if not chosen:
        return [Change("shims", f"no cgseq shims in {directory}: nothing to remove")]
    return [_unplan_one(directory / name, name) for name in chosen]


def _unplan_one(path: Path, name: str) -> Change:
    if carries_mark(path):
        return Change(name, f"removed {path}", partial(remove, path))
    if exists(path):
        return Change(name, f"left alone: {path} is not cgseq's")
    return Change(name, f"no shim at {path}: nothing to remove")


def installed(directory: Path) -> list[str]:
    """The names of the cgseq shims in ``directory``."""
    if directory.is_symlink() or not directory.is_dir():
        return []
    return sorted(entry.name for entry in directory.iterdir() if carries_mark(entry))


def find_real(name: str, directory: Path, search_path: str) -> str | None:
    """The command a shim in ``directory`` runs for ``name``, by the shim's own rule."""
    for entry in search_path.split(os.pathsep):
        candidate = Path(entry or ".") / name
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        if _same_dir(entry or ".", directory) or carries_mark(candidate.resolve()):
            continue
        return str(candidate)
    return None


def _same_dir(entry: str, directory: Path) -> bool:
    try:
        return os.path.samefile(entry, directory)
    except OSError:
        return False


class PathPlace(NamedTuple):
    on_path: bool
    first: bool  # before every other PATH entry that has one of the shimmed commands


def place_on_path(directory: Path, names: Sequence[str], search_path: str) -> PathPlace:
    """Whether ``directory`` is on ``search_path``, and ahead of the real commands."""
    entries = search_path.split(os.pathsep)
    index = next((i for i, e in enumerate(entries) if _same_dir(e or ".", directory)), None)
    if index is None:
        return PathPlace(False, False)
    before = entries[:index]
    shadowed = any((Path(e or ".") / n).is_file() for e in before for n in names)
    return PathPlace(True, not shadowed)
