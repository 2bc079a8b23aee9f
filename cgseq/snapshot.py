"""The queue as it is now, as plain data: what ``cgseq status`` prints and the monitor shows.

Built from :func:`cgseq.queue.slots.all_slots` (records and locks) and a look at each
running job's processes. Records are data anyone with the state dir could have written:
they are shown, never acted on. The shape is the documented JSON of ``status --json``;
:data:`VERSION` changes when a field changes meaning or goes away (new fields may appear).
"""

from __future__ import annotations

import time
from typing import Any

from cgseq import jobids, procfs
from cgseq.project import slot_for
from cgseq.queue import slots
from cgseq.queue.records import HolderRecord, TicketRecord

VERSION = 1


def take(cwd: str | None = None) -> dict[str, Any]:
    """Every busy slot of the user, or (``cwd``) only that directory's project's."""
    views = slots.all_slots() if cwd is None else [slots.view(slot_for(cwd, None).key)]
    busy = [view for view in views if view.busy]
    return {
        "version": VERSION,
        "scope": "all" if cwd is None else "project",
        "taken_at": time.time(),
        "slots": [_slot(view) for view in busy],
        "orphans": _orphans() if cwd is None else [],
    }


def _slot(view: slots.SlotView) -> dict[str, Any]:
    running, dead = view.running, view.dead_holder
    shown = running or dead or (view.tickets[0] if view.tickets else None)
    return {
        "slot": view.key,
        "lock": shown.lock if shown is not None else None,
        "where": (shown.cwd if shown is not None else None) or view.key,
        "running": _running(running) if running is not None else None,
        "waiting": [_waiter(ticket, place) for place, ticket in enumerate(view.waiting, 1)],
        "unsupervised": _unsupervised(dead) if dead is not None else None,
    }


def _running(holder: HolderRecord) -> dict[str, Any]:
    limits, enforcement = holder.limits, holder.enforcement or {}
    return {
        "id": holder.job_id,
        "argv": list(holder.argv or ()),
        "pid": holder.job_pid,
        "supervisor_pid": holder.pid,
        "started": holder.since,
        "elapsed": _elapsed(holder.job_pid, holder.since),
        "backend": holder.backend,
        "timeout": limits.timeout if limits else None,
        "memory": {
            "now": holder.memory_now,
            "peak": holder.peak_memory,
            "limit": limits.memory if limits else None,
            "enforced_by": enforcement.get("memory"),
        },
        "pids": {
            "now": holder.pids_now,
            "peak": holder.peak_pids,
            "limit": limits.pids if limits else None,
            "enforced_by": enforcement.get("pids"),
        },
    }


def _waiter(ticket: TicketRecord, place: int) -> dict[str, Any]:
    since = ticket.since
    return {
        "place": place,
        "id": ticket.job_id,
        "argv": list(ticket.argv or ()),
        "pid": ticket.pid,
        "since": since,
        "waited": max(0.0, time.time() - since) if since is not None else 0.0,
        "ticket": ticket.key,
        "problem": ticket.problem,
    }


def _unsupervised(holder: HolderRecord) -> dict[str, Any]:
    """A holder record while nobody holds the slot: its supervisor died, maybe not its job."""
    job_id, job_pid = holder.job_id or "", holder.job_pid
    alive = job_pid is not None and _is_job(job_pid, job_id)
    elapsed = _elapsed(job_pid, holder.since) if alive else None
    timeout = holder.limits.timeout if holder.limits is not None else None
    return {
        "supervisor_pid": holder.pid,
        "job_pid": job_pid,
        "job_id": job_id,
        "job_running": alive,
        "argv": list(holder.argv or ()),
        "backend": holder.backend,
        "running_for": elapsed,
        "timeout": timeout,
        "past_timeout": bool(elapsed is not None and timeout and elapsed > timeout),
        "problem": holder.problem,
    }


def _is_job(pid: int, job_id: str) -> bool:
    """Is ``pid`` (alive, not a zombie) still the job: in its group or with its id in its env?"""
    if jobids.parse(job_id) is None:  # not one of ours (an empty id would match any group)
        return False
    if not procfs.running(pid):
        return False
    groups = procfs.cgroups(pid)
    if groups is None:
        return False
    if any(f"/{job_id}" in path for path in groups.values()):
        return True
    return procfs.env_marked(pid, job_id)


def _elapsed(pid: int | None, since: float | None) -> float:
    """Seconds since the job started: the kernel's start time where there is /proc (the boot
    clock, which a step of the wall clock does not move), else the record's ``since``."""
    age = procfs.age(pid) if pid is not None else None
    if age is not None:
        return age
    return max(0.0, time.time() - since) if since is not None else 0.0


def _orphans() -> list[dict[str, Any]]:
    """Kernel groups of dead supervisors with processes still in them (Linux)."""
    if not procfs.LINUX:
        return []
    from cgseq.backends import cgroupfs

    try:
        found = cgroupfs.orphans()
    except OSError:
        return []
    return [{"id": job_id, "processes": count} for job_id, count in sorted(found.items())]
