"""Nested runs: ``cgseq run`` inside a running job shares that job's turn and limits.

The job's environment carries ``CGSEQ_TURN=<slot>:<supervisor pid>:<job id>``. A bare
environment variable is not proof (a stale shell could carry one), so the turn is
accepted only when that supervisor is an ancestor of this process *and* the slot's
holder record names the same supervisor and job: the turn is alive and ours.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cgseq.turns import read_json

ENV = "CGSEQ_TURN"


def token(slot_key: str, job_id: str) -> str:
    return f"{slot_key}:{os.getpid()}:{job_id}"


def inherited_turn(slot_key: str, slot_dir: Path) -> str | None:
    """The job id of a live enclosing job holding ``slot_key``, else None."""
    raw = os.environ.get(ENV, "")
    parts = raw.split(":")
    if len(parts) != 3 or parts[0] != slot_key or not parts[1].isdigit():
        return None
    supervisor, job_id = int(parts[1]), parts[2]
    holder = read_json(slot_dir / "holder.json")
    if not holder or holder.get("pid") != supervisor or holder.get("job_id") != job_id:
        return None
    return job_id if is_ancestor(supervisor) else None


def is_ancestor(pid: int) -> bool:
    current = os.getppid()
    for _ in range(256):  # a deeper chain is not a real process tree
        if current == pid:
            return True
        if current <= 1:
            return False
        parent = _parent_of(current)
        if parent is None:
            return False
        current = parent
    return False


def _parent_of(pid: int) -> int | None:
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        return int(stat.rpartition(")")[2].split()[1])  # field 4, after the comm
    import psutil

    try:
        return psutil.Process(pid).ppid()
    except psutil.Error:
        return None
