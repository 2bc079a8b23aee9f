"""One view for the monitor: the queue as :func:`cgseq.snapshot.take` gives it, with each
running job's largest processes and the recent finished jobs of the history added.

Only reads: /proc for the processes, the history database for the recent jobs. A history
that cannot be read is one line in the view (``recent_error``), never a failure.
"""

from __future__ import annotations

from typing import Any

from cgseq import memwatch, snapshot

LARGEST = 5  # processes shown per running job
RECENT = 5  # finished jobs shown


def gather(cwd: str | None) -> dict[str, Any]:
    """The snapshot of ``cwd``'s project (None: every project), with ``largest`` in each
    running job and ``recent`` (or ``recent_error``) at the top."""
    view = snapshot.take(cwd)
    for slot in view["slots"]:
        running = slot["running"]
        if running is not None:
            running["largest"] = largest(running["pid"])
    view.update(recent(cwd))
    return view


def largest(pid: int | None) -> list[dict[str, Any]]:
    """The job's process and its descendants with the most RSS, largest first."""
    if pid is None:
        return []
    found = [proc for each in memwatch.tree(pid) if (proc := memwatch.process(each)) is not None]
    found.sort(key=lambda proc: proc.rss, reverse=True)
    return [proc._asdict() for proc in found[:LARGEST]]


def recent(cwd: str | None) -> dict[str, Any]:
    """``{"recent": [...]}``, oldest first, or ``{"recent_error": "..."}``."""
    try:
        return {"recent": _recent_jobs(cwd)}
    except Exception as exc:  # any failure of the history: shown, the monitor goes on
        return {"recent_error": str(exc).splitlines()[0] if str(exc) else repr(exc)}


def _recent_jobs(cwd: str | None) -> list[dict[str, Any]]:
    from cgseq.history import queries, store
    from cgseq.project import slot_for

    project = slot_for(cwd, None).project if cwd is not None else None
    with store.opened() as db:
        jobs = queries.recent(db, project, RECENT)
    return [
        {
            "id": job.id,
            "command": job.command,
            "outcome": job.outcome(),
            "peak": job.peak_memory,
            "duration": job.duration,
            "started": job.started,
        }
        for job in jobs
    ]
