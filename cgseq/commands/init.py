"""``cgseq init [--dry-run]`` and ``cgseq init --check``: set a project up, or check it."""

from __future__ import annotations

import os
from pathlib import Path

from cgseq.commands.changes import apply_and_report
from cgseq.errors import UsageError
from cgseq.integrations import setup
from cgseq.integrations.gitdirs import git_hooks
from cgseq.project import project_root

EXIT_MISSING = 1


def init_command(*, dry_run: bool, check: bool) -> int:
    if check and dry_run:
        raise UsageError("--check changes nothing: it takes no --dry-run")
    cwd = os.getcwd()
    found = git_hooks(cwd)  # first: outside a git repository, nothing is written
    project = Path(project_root(cwd))
    if check:
        return _check(project, found.directory)
    changes = [setup.plan_limits(project, setup.machine_memory())]
    changes += setup.plan_hooks(found.for_install(), project)
    return apply_and_report(changes, dry_run)


def _check(project: Path, hooks_dir: Path) -> int:
    checks = [setup.check_limits(project), *setup.check_hooks(hooks_dir, project)]
    checks += [setup.check_pytest_plugin(), setup.check_backend()]
    width = max(len(check.subject) for check in checks)
    for check in checks:
        mark = "ok     " if check.ok else "missing"
        print(f"{mark}  {check.subject:<{width}}  {check.detail}")
    return 0 if all(check.ok for check in checks) else EXIT_MISSING
