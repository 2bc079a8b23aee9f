"""What a new holder does first and last: clean up after a dead holder, keep history."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cgseq.result import JobResult
from cgseq.turns import Turn

HISTORY = "history.jsonl"
HISTORY_MAX_BYTES = 4 << 20  # keep the last ~4 MiB of history


def after_dead_holder(turn: Turn) -> list[str]:
    """A holder record that outlived its turn means its supervisor died: reap its job.

    Holding the slot proves the previous holder is gone (the kernel released its lock),
    so whatever its record names is left over. Only what the record names is touched.
    """
    holder = turn.read_holder()
    if holder is None:
        return []
    lines = reap_record(holder)
    with contextlib.suppress(FileNotFoundError):
        turn.holder_path.unlink()
    return lines


def orphan_groups() -> list[str]:
    """Kernel groups of dead supervisors (any project): kill and remove them before a run."""
    import sys

    if not sys.platform.startswith("linux"):
        return []
    from cgseq.backends import cgroupfs

    try:
        return cgroupfs.reap_orphans()
    except OSError as exc:
        return [f"warning: could not check for orphaned groups: {exc}"]


def reap_record(holder: Mapping[str, Any]) -> list[str]:
    from cgseq import backends
    from cgseq.errors import CgseqError

    name, record = holder.get("backend"), holder.get("record")
    if not isinstance(name, str) or not isinstance(record, dict):
        return []
    try:
        killed = backends.load(name).reap(record)
    except (CgseqError, ImportError, OSError) as exc:
        return [f"warning: could not clean up after dead job {holder.get('job_id')}: {exc}"]
    raw = holder.get("argv")  # untrusted, like the whole record
    argv = " ".join(map(str, raw)) if isinstance(raw, list) else "?"
    return [f"previous holder (pid {holder.get('pid')}, {argv}) died; {line}" for line in killed]


def record_history(state: Path, result: JobResult) -> None:
    """Append the result to the history, one JSON line per job, trimmed when large.

    Never through a symlink; a failure is a StateDirError (the caller warns: the job ran).
    """
    from cgseq import safefs

    path = state / HISTORY
    line = json.dumps(result.to_json(), separators=(",", ":")) + "\n"
    if safefs.append(path, line.encode()) > HISTORY_MAX_BYTES:
        _trim(path)
    from cgseq import history

    history.record(result)  # a HistoryError is a CgseqError: the caller warns once


def _trim(path: Path) -> None:
    from cgseq import safefs

    lines = (safefs.read(path) or b"").splitlines(keepends=True)
    safefs.write_atomic(path, b"".join(lines[len(lines) // 2 :]))
