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
        return Slot(key="lock-" + lock_key(lock), label=f"lock {lock}", project=project)
    digest = f"{zlib.crc32(project.encode()):08x}"  # with the name: unique enough, and no hashlib
    return Slot(
        key=f"{_safe(os.path.basename(project)) or 'root'}-{digest}", label=project, project=project
    )


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64]


def lock_key(name: str) -> str:
    """A directory name for ``--lock NAME``, one-to-one: ``a/b`` and ``a_b`` never share one.

    Each byte outside ``[A-Za-z0-9_.-]`` becomes ``%XX`` (``%`` itself too), which can be
    reversed, so distinct names give distinct keys; a name too long for a file name keeps a
    readable start and ``~`` + the SHA-256 of the whole name (``~`` is always escaped).
    """
    escaped = "".join(
        chr(b) if chr(b) in _PLAIN else f"%{b:02X}" for b in name.encode("utf-8", "surrogateescape")
    )
    if len(escaped) <= _MAX_KEY:
        return escaped
    import hashlib  # only for names this long: not on everyone's hot path

    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{escaped[:64]}~{digest}"


_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_MAX_KEY = 200  # + "lock-" stays below NAME_MAX (255)
