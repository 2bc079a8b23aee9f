"""``cgseq hooks install|uninstall|list``: git hooks that run their work in a cgseq turn."""

from __future__ import annotations

import os
from pathlib import Path

from cgseq.commands.changes import apply_and_report
from cgseq.integrations import hooks
from cgseq.integrations.gitdirs import git_hooks
from cgseq.project import project_root


def install_command(*, hook_types: list[str] | None, dry_run: bool) -> int:
    cwd = os.getcwd()
    directory = git_hooks(cwd).for_install()
    types = hook_types or list(hooks.DEFAULT_TYPES)
    return apply_and_report(hooks.plan_install(directory, _worktree(cwd), types), dry_run)


def uninstall_command(*, hook_types: list[str] | None, dry_run: bool) -> int:
    directory = git_hooks(os.getcwd()).directory  # also with core.hooksPath: ours go
    return apply_and_report(hooks.plan_uninstall(directory, hook_types), dry_run)


def list_command() -> int:
    cwd = os.getcwd()
    found = git_hooks(cwd)
    ignored = f" (not used: core.hooksPath is {found.hooks_path})" if found.hooks_path else ""
    print(f"{found.directory}{ignored}")
    states = hooks.status(found.directory, _worktree(cwd))
    width = max(len(state.hook_type) for state in states)
    for state in states:
        print(f"  {state.hook_type:<{width}}  {state.state:<7}  {state.detail}")
    return 0


def _worktree(cwd: str) -> Path:
    """Where git runs the hooks (the worktree's top level): its .pre-commit-config.yaml."""
    return Path(project_root(cwd))
