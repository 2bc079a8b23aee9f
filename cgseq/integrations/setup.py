"""``cgseq init``: set a project up (limits, git hooks) and check what is set up.

The ``[tool.cgseq]`` section is *appended* to ``pyproject.toml`` as text, so that the rest of
the file keeps its formatting and comments; a project that has one is left alone. The hooks
are those of ``cgseq hooks install`` (:mod:`cgseq.integrations.hooks`). As there, changes are
planned first and applied after, so that ``--dry-run`` shows exactly what would be done.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import NamedTuple

from cgseq import units
from cgseq.errors import UsageError
from cgseq.integrations import hooks
from cgseq.integrations.scripts import Change, failure

PYPROJECT = "pyproject.toml"
PIDS = 4096  # a fork bomb stops here; a parallel build or test run needs a few hundred
GIB = 1 << 30


def machine_memory() -> int:
    """This machine's RAM in bytes (no psutil: sysconf is enough on Linux and macOS)."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def memory_limit(ram: int) -> int:
    """Half of the RAM, rounded down to whole GiB, at least 1G: the rest stays for the
    desktop, the editor and the other projects' jobs."""
    return max(GIB, ram // 2 // GIB * GIB)


def section(ram: int) -> str:
    memory, total = units.format_size(memory_limit(ram)), units.format_size(ram)
    return (
        "\n# cgseq: commands of this project run one at a time, each under these limits:\n"
        "# 'cgseq run -- CMD', the git hooks, and pytest. Written by 'cgseq init' for a\n"
        f"# machine with {total} of RAM; 'cgseq config' shows each setting and its source.\n"
        "[tool.cgseq]\n"
        "# half of the RAM: a job past it is killed, not the editor or the desktop\n"
        f'memory = "{memory}"\n'
        f"# a fork bomb stops at {PIDS} processes; a parallel build needs a few hundred\n"
        f"pids = {PIDS}\n"
    )


def has_table(content: bytes, path: Path) -> bool:
    """``[tool.cgseq]`` is in the TOML however it is spelled; bad TOML is exit 2."""
    import tomllib

    try:
        tool = tomllib.loads(content.decode()).get("tool", {})
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(
            f"invalid TOML in {path}: {exc}", hint="fix it, then run this again"
        ) from None
    return isinstance(tool, dict) and isinstance(tool.get("cgseq"), dict)


def read_pyproject(path: Path) -> bytes | None:
    """The file's bytes, None when there is none; a link or a non-file is refused."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise UsageError(f"{path} is not a regular file: cgseq does not write through it")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def plan_limits(project: Path, ram: int) -> Change:
    path = project / PYPROJECT
    content = read_pyproject(path)
    if content is not None and has_table(content, path):
        return Change("limits", f"left alone: {path} already has a [tool.cgseq] section")
    text = section(ram)
    if content is not None and content and not content.endswith(b"\n"):
        text = "\n" + text
    if not _still_valid((content or b"") + text.encode(), path):
        message = f"left alone: {path} defines 'tool' so that a [tool.cgseq] cannot follow"
        return Change("limits", message, refused=True)
    verb = "created" if content is None else "appended [tool.cgseq] to"
    memory = units.format_size(memory_limit(ram))
    message = f"{verb} {path}: memory {memory}, pids {PIDS}"
    return Change("limits", message, partial(_append, path, text.encode()))


def _still_valid(content: bytes, path: Path) -> bool:
    """The file with the section appended is TOML with the table (``tool = {...}`` inline
    would make a ``[tool.cgseq]`` header after it an error)."""
    try:
        return has_table(content, path)
    except UsageError:
        return False


def _append(path: Path, data: bytes) -> None:
    """Append, never through a symlink; a new file is 0644 as pyproject files are."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        raise failure(exc, path, "write") from exc


def plan_hooks(directory: Path, worktree: Path) -> list[Change]:
    """Install the default hooks; ones already cgseq's are left alone (idempotent)."""
    states = {state.hook_type: state for state in hooks.status(directory, worktree)}
    wanted = [t for t in hooks.DEFAULT_TYPES if states[t].state != "cgseq"]
    kept = [
        Change(t, f"left alone: cgseq's hook is installed; {states[t].detail}")
        for t in hooks.DEFAULT_TYPES
        if t not in wanted
    ]
    return kept + (hooks.plan_install(directory, worktree, wanted) if wanted else [])


class Check(NamedTuple):
    """One line of ``cgseq init --check``."""

    subject: str
    ok: bool
    detail: str


def check_limits(project: Path) -> Check:
    path = project / PYPROJECT
    content = read_pyproject(path)
    if content is None or not has_table(content, path):
        return Check("limits", False, f"no [tool.cgseq] in {path} (fix: cgseq init)")
    from cgseq import config

    settings = config.resolve(str(project))
    memory, pids = settings["memory"].value, settings["pids"].value
    if memory is None:
        return Check("limits", False, 'no memory limit in [tool.cgseq] (fix: memory = "4G")')
    shown = f"memory {units.format_size(memory)}, pids {pids if pids is not None else 'none'}"
    return Check("limits", True, shown)


def check_hooks(directory: Path, worktree: Path) -> list[Check]:
    states = {state.hook_type: state for state in hooks.status(directory, worktree)}
    return [
        Check(f"{t} hook", states[t].state == "cgseq", _hook_detail(states[t]))
        for t in sorted(states)
        if t in hooks.DEFAULT_TYPES or states[t].state != "missing"
    ]


def _hook_detail(state: hooks.HookState) -> str:
    if state.state == "missing":
        return "no hook (fix: cgseq init)"
    return state.detail


def check_pytest_plugin() -> Check:
    """The plugin's entry point in the environment of this interpreter (the project's)."""
    from importlib.metadata import entry_points

    names = {entry.name for entry in entry_points(group="pytest11")}
    if "cgseq" in names:
        return Check("pytest plugin", True, "active: a direct pytest takes the project's turn")
    return Check("pytest plugin", False, "not installed here (fix: pip install cgseq)")


def check_backend() -> Check:
    """The strongest backend here; sampling only is not a failure, but said plainly."""
    from cgseq import backends

    found = [probe for probe in backends.probe_all() if probe.available]
    if not found:
        return Check("backend", False, "none available (see cgseq doctor)")
    best = next((probe for probe in found if probe.kernel), found[0])
    strength = "kernel-enforced" if best.kernel else "sampled only (see cgseq doctor)"
    return Check("backend", True, f"{best.backend}: {strength}")
