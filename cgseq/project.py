"""Which slot a job queues on: the project (git top level, else cwd) or a named lock."""

from __future__ import annotations

import os
import re
import zlib
from pathlib import Path
from typing import NamedTuple


class Slot(NamedTuple):
    """One single-job queue. ``key`` is a safe directory name, ``label`` is for people."""

    key: str
    label: str
    project: str  # the project directory this run belongs to


def project_root(cwd: str) -> str:
    """The git top level above ``cwd`` (a worktree or submodule is its own), else ``cwd``.

    Found by looking for ``.git`` (dir or file) rather than running git: no fork on the hot path.
    """
    path = Path(cwd).resolve()
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return str(candidate)
    return str(path)


def slot_for(cwd: str, lock: str | None) -> Slot:
    project = project_root(cwd)
    if lock:
        return Slot(key="lock-" + _safe(lock), label=f"lock {lock}", project=project)
    digest = f"{zlib.crc32(project.encode()):08x}"  # with the name: unique enough, and no hashlib
    return Slot(
        key=f"{_safe(os.path.basename(project)) or 'root'}-{digest}", label=project, project=project
    )


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64]
