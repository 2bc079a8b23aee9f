"""Where git runs a repository's hooks from: the common git dir, shared by every worktree
(``git worktree add`` checkouts have a git dir of their own but no hooks of their own),
unless ``core.hooksPath`` points somewhere else."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import NamedTuple

from cgseq.errors import UsageError


class GitHooks(NamedTuple):
    directory: Path  # <common git dir>/hooks
    hooks_path: str | None  # core.hooksPath when set: then git ignores ``directory``

    def for_install(self) -> Path:
        """``directory``; refused when git would not run hooks from it."""
        if self.hooks_path:
            raise UsageError(
                f"core.hooksPath is set ({self.hooks_path}): git runs the hooks from there, "
                f"not from {self.directory}",
                hint="unset it (git config --unset-all core.hooksPath) and run this again, "
                f"or call 'cgseq run --' yourself from the hooks in {self.hooks_path}",
            )
        return self.directory


def git_hooks(cwd: str) -> GitHooks:
    common = _git(cwd, "rev-parse", "--git-common-dir")
    if common.returncode != 0:
        raise UsageError(
            f"not in a git repository: {cwd}", hint="run it inside the repository to set up"
        )
    # relative to cwd when git prints it relative (inside the main worktree: ".git")
    directory = Path(os.path.abspath(os.path.join(cwd, common.stdout.strip()))) / "hooks"
    configured = _git(cwd, "config", "--get", "core.hooksPath").stdout.strip()
    return GitHooks(directory, configured or None)


def _git(cwd: str, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError:
        raise UsageError("git not found on PATH: git hooks need git") from None
