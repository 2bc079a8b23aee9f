"""What a new holder does first: clean up after a dead holder (and, before any run, after
dead supervisors' groups)."""

from __future__ import annotations

from cgseq.errors import StateDirError
from cgseq.queue.records import HolderRecord
from cgseq.queue.turns import Turn


def after_dead_holder(turn: Turn) -> list[str]:
    """A holder record that outlived its turn means its supervisor died: reap its job.

    Holding the slot proves the previous holder is gone (the kernel released its lock),
    so whatever its record names is left over. Only what the record names is touched. A
    record this cgseq cannot read names nothing it could act on and goes, except a newer
    cgseq's: this run then refuses (that cgseq's ``doctor --clean`` reaps what it names).
    """
    holder = turn.read_holder()
    if holder is None:
        return []
    if holder.newer:
        raise StateDirError(
            f"this slot's previous holder record was {holder.problem}: the job did not run",
            hint=f"run that cgseq's 'cgseq doctor --clean', or remove {turn.holder_path}",
        )
    lines = reap_record(holder)
    turn.clear_holder()
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


def reap_record(holder: HolderRecord) -> list[str]:
    """Kill what a dead holder's job left, as its backend verifies it (the record is data)."""
    from cgseq import backends
    from cgseq.errors import CgseqError

    if holder.backend is None or holder.record is None:
        return []
    try:
        killed = backends.load(holder.backend).reap(holder.record)
    except (CgseqError, ImportError, OSError) as exc:
        return [f"warning: could not clean up after dead job {holder.job_id}: {exc}"]
    argv = " ".join(holder.argv) if holder.argv is not None else "?"
    return [f"previous holder (pid {holder.pid}, {argv}) died; {line}" for line in killed]
