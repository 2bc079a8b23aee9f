"""``cgseq init --check``: heavy hooks of ``.pre-commit-config.yaml`` that run outside cgseq.

Reading the config needs PyYAML, which cgseq does not depend on. It is imported when it is
there (it is wherever the pre-commit framework is installed beside cgseq, since pre-commit
needs it); without it the check says so in one line rather than guess with a partial YAML
reader: a wrong "ok" is worse than an honest "cannot read". That line is ``missing`` unless
cgseq's git hooks already run pre-commit in a turn, which covers every hook without reading.

A hook is *heavy* when its id, or the command its ``entry`` runs, is one of :data:`HEAVY`
(``uv run``, ``python -m``, ``npx``, ``env`` and ``sh -c`` prefixes are looked through);
``npm``, ``pnpm`` and ``yarn`` are heavy when they run ``test``, ``build`` or a script.
A heavy hook is *covered* when its entry starts with ``cgseq run``, when it is one of
cgseq's own hooks (:data:`CGSEQ_HOOK_IDS`, from the repository's ``.pre-commit-hooks.yaml``),
or when every git hook that would run it (its ``stages``) is cgseq's shim around pre-commit:
then the whole pre-commit run is one turn under the project's limits.
"""

from __future__ import annotations

import importlib
import os
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from cgseq.integrations.hooks import CONFIG, pre_commit_runs
from cgseq.integrations.setup import Check

SUBJECT = "pre-commit config"
# tools whose run can take minutes and gigabytes; a hook id may also be "TOOL-something"
HEAVY = frozenset(
    {
        *("mypy", "dmypy", "pytest", "pyright", "pylint", "pytype", "tox", "nox"),
        *("cargo", "clippy", "make", "cmake", "ninja", "bazel", "gradle", "mvn"),
        *("eslint", "tsc", "jest", "vitest", "webpack"),
    }
)
NODE_RUNNERS = frozenset({"npm", "pnpm", "yarn"})
NODE_HEAVY = frozenset({"test", "t", "build", "run", "run-script", "exec"})
CGSEQ_HOOK_IDS = frozenset({"cgseq-run", "cgseq-run-system"})
_PREFIXES = {  # wrappers whose arguments are the real command: how many words they take
    ("uv", "run"): 2,
    ("poetry", "run"): 2,
    ("pipenv", "run"): 2,
    ("pdm", "run"): 2,
    ("hatch", "run"): 2,
    ("pnpm", "exec"): 2,
    ("python", "-m"): 2,
    ("python3", "-m"): 2,
}
_OLD_STAGES = {"commit": "pre-commit", "push": "pre-push", "merge-commit": "pre-merge-commit"}


class Hook(NamedTuple):
    id: str
    entry: str | None
    stages: frozenset[str] | None  # None: every stage pre-commit is installed for


def check_pre_commit(directory: Path, worktree: Path) -> list[Check]:
    """One ``missing`` line per heavy hook outside cgseq, else one ``ok`` line."""
    path = worktree / CONFIG
    if not path.is_file():
        return [Check(SUBJECT, True, f"no {CONFIG}: nothing to check")]
    runs = pre_commit_runs(directory, worktree)
    wrapped = sorted(t for t, ours in runs.items() if ours)
    hooks = read_hooks(path)
    if isinstance(hooks, str):
        if wrapped and all(runs.values()):
            return [Check(SUBJECT, True, f"{_wrapped(wrapped)} ({hooks})")]
        return [Check(SUBJECT, False, hooks)]
    return _verdicts(hooks, runs) or [Check(SUBJECT, True, _all_covered(hooks, wrapped))]


def _wrapped(types: list[str]) -> str:
    return f"cgseq's {', '.join(types)} hook runs pre-commit in one turn"


def _all_covered(hooks: list[Hook], wrapped: list[str]) -> str:
    heavy = [hook for hook in hooks if heavy_tool(hook) is not None]
    if not heavy:
        return f"no heavy hooks in {CONFIG}"
    reason = _wrapped(wrapped) if wrapped else "each runs through 'cgseq run'"
    return f"{len(heavy)} heavy hook(s), all in a cgseq turn: {reason}"


def _verdicts(hooks: list[Hook], runs: dict[str, bool]) -> list[Check]:
    return [
        Check(f"heavy hook {hook.id}", False, _fix(hook, tool, runs))
        for hook in hooks
        if (tool := heavy_tool(hook)) is not None and not _covered(hook, runs)
    ]


def _covered(hook: Hook, runs: dict[str, bool]) -> bool:
    if hook.id in CGSEQ_HOOK_IDS and hook.entry is None:
        return True
    if hook.entry is not None and _through_cgseq(_words(hook.entry)):
        return True
    running = _stage_hooks(hook, runs)
    return bool(running) and all(runs[t] for t in running)


def _fix(hook: Hook, tool: str, runs: dict[str, bool]) -> str:
    where = "only under 'pre-commit run'" if not _stage_hooks(hook, runs) else "outside cgseq"
    entry = " ".join(_words(hook.entry)) if hook.entry else tool
    return f"runs {tool} {where} (fix: entry: cgseq run -- {entry}; or: cgseq hooks install)"


def _stage_hooks(hook: Hook, runs: dict[str, bool]) -> list[str]:
    return [t for t in runs if hook.stages is None or t in hook.stages]


def heavy_tool(hook: Hook) -> str | None:
    """The heavy tool the hook runs (by its entry, else its id), None if it is not heavy."""
    if hook.entry is not None:
        found = _heavy_command(_words(hook.entry))
        if found is not None:
            return found
    name = hook.id.lower()
    return next((tool for tool in sorted(HEAVY) if name.split("-")[0] == tool), None)


def _heavy_command(words: list[str]) -> str | None:
    words = _unwrap(words)
    if not words:
        return None
    tool = os.path.basename(words[0])
    if tool in HEAVY:
        return tool
    if tool in NODE_RUNNERS and len(words) > 1 and words[1] in NODE_HEAVY:
        return f"{tool} {words[1]}"
    return None


def _unwrap(words: list[str]) -> list[str]:
    """The command behind ``env X=1``, ``uv run``, ``npx``, ``sh -c '...'`` and their like."""
    while words:
        head = os.path.basename(words[0])
        if head in ("env", "npx", "bunx") or "=" in words[0]:
            words = words[1:]
        elif head in ("sh", "bash") and len(words) > 2 and words[1] == "-c":
            words = _words(words[2])
        elif (head, words[1] if len(words) > 1 else "") in _PREFIXES:
            words = words[2:]
        else:
            return words
    return words


def _through_cgseq(words: list[str]) -> bool:
    while words and (os.path.basename(words[0]) == "env" or "=" in words[0]):
        words = words[1:]
    if words and os.path.basename(words[0]).startswith("python") and words[1:3] == ["-m", "cgseq"]:
        words = ["cgseq", *words[3:]]
    return words[:1] != [] and os.path.basename(words[0]) == "cgseq" and words[1:2] == ["run"]


def _words(entry: str) -> list[str]:
    try:
        return shlex.split(entry)
    except ValueError:  # an unbalanced quote: pre-commit itself would split it so
        return entry.split()


def read_hooks(path: Path) -> list[Hook] | str:
    """The config's hooks, or one line saying why they cannot be read."""
    try:
        yaml = importlib.import_module("yaml")
    except ImportError:
        return f"cannot read {CONFIG} without PyYAML (fix: pip install pyyaml beside cgseq)"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
    except yaml.YAMLError as exc:
        return f"invalid YAML in {path}: {_yaml_problem(exc)}"
    if not isinstance(data, dict) or not isinstance(data.get("repos"), list):
        return f"{path} has no 'repos' list: pre-commit would refuse it"
    return list(_hooks(data))


def _yaml_problem(exc: Any) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} at line {mark.line + 1}" if mark is not None else str(problem)


def _hooks(data: object) -> Iterator[Hook]:
    """Every hook with a string id; anything of another shape is skipped (pre-commit's own
    ``validate-config`` is the place to diagnose it)."""
    if not isinstance(data, dict):
        return
    default = _stages(data.get("default_stages"))
    repos = data.get("repos")
    for repo in repos if isinstance(repos, list) else ():
        hooks = repo.get("hooks") if isinstance(repo, dict) else None
        for hook in hooks if isinstance(hooks, list) else ():
            if isinstance(hook, dict) and isinstance(hook.get("id"), str):
                entry = hook.get("entry")
                stages = _stages(hook.get("stages")) if "stages" in hook else default
                yield Hook(hook["id"], entry if isinstance(entry, str) else None, stages)


def _stages(value: object) -> frozenset[str] | None:
    if not isinstance(value, list):
        return None
    return frozenset(_OLD_STAGES.get(str(stage), str(stage)) for stage in value)
