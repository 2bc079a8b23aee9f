"""``cgseq init [--dry-run]`` and ``cgseq init --check``: set a project up, or check it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cgseq.commands.changes import apply_and_report
from cgseq.errors import CgseqError, UsageError
from cgseq.integrations import precommit_check, setup
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
    checks = project_checks(project, hooks_dir)
    width = max(len(check.subject) for check in checks)
    for check in checks:
        mark = "ok     " if check.ok else "missing"
        print(f"{mark}  {check.subject:<{width}}  {check.detail}")
    return 0 if all(check.ok for check in checks) else EXIT_MISSING


def project_checks(project: Path, hooks_dir: Path) -> list[setup.Check]:
    """Every check of ``--check`` (and of ``cgseq doctor`` in a project); a check that cannot
    be made (bad TOML, an unreadable file) is a ``missing`` line saying why, not an error."""
    checks = _guarded("limits", lambda: [setup.check_limits(project)])
    checks += _guarded("hooks", lambda: setup.check_hooks(hooks_dir, project))
    checks += _guarded(
        precommit_check.SUBJECT, lambda: precommit_check.check_pre_commit(hooks_dir, project)
    )
    return [*checks, setup.check_pytest_plugin(), setup.check_backend()]


def _guarded(subject: str, check: Callable[[], list[setup.Check]]) -> list[setup.Check]:
    try:
        return check()
    except CgseqError as exc:
        return [setup.Check(subject, False, str(exc))]
    except OSError as exc:
        return [setup.Check(subject, False, f"cannot read {exc.filename}: {exc.strerror}")]
