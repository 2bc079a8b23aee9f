"""``cgseq status``: for every slot, who runs (memory now and peak) and who waits."""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

from cgseq import jobids, procfs
from cgseq.queue import slots
from cgseq.queue.records import HolderRecord, TicketRecord
from cgseq.units import format_duration, format_size


def status_command(*, as_json: bool) -> int:
    busy = [_slot(view) for view in slots.all_slots() if view.busy]
    if as_json:
        print(json.dumps({"slots": busy}, indent=2))
        return 0
    if not busy:
        print("no jobs running or waiting")
    for slot in busy:
        _print_slot(slot)
    return 0


def _slot(view: slots.SlotView) -> dict[str, Any]:
    running, dead = view.running, view.dead_holder
    unsupervised = _unsupervised(dead) if dead is not None else None
    shown = running or (unsupervised and dead) or (view.tickets[0] if view.tickets else None)
    return {
        "slot": view.key,
        "where": (shown.cwd if shown is not None else None) or view.key,
        "running": running.to_dict() if running is not None else None,
        "waiting": [_waiter(ticket) for ticket in view.waiting],
        "unsupervised": unsupervised,
    }


def _waiter(ticket: TicketRecord) -> dict[str, Any]:
    return ticket.to_dict() | {"ticket": ticket.key, "problem": ticket.problem}


def _unsupervised(holder: HolderRecord) -> dict[str, Any]:
    """A holder record while nobody holds the slot: its supervisor died, maybe not its job.

    The record is data anyone with the state dir could have written: only shown, never acted on.
    """
    job_id, job_pid = holder.job_id or "", holder.job_pid
    alive = job_pid is not None and _is_job(job_pid, job_id)
    elapsed = _running_for(job_pid, holder) if alive and job_pid is not None else None
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


def _running_for(pid: int, holder: HolderRecord) -> float:
    """Seconds since the job started, by the kernel's start time where there is /proc.

    The boot clock (:func:`cgseq.procfs.age`), so a step of the wall clock does not change
    it; else the record's wall-clock ``since``.
    """
    age = procfs.age(pid)
    if age is not None:
        return age
    since = holder.since
    return max(0.0, time.time() - since) if since is not None else 0.0


def _print_slot(slot: dict[str, Any]) -> None:
    now = time.time()
    print(f"{slot['where']}  [{slot['slot']}]")
    running = slot["running"]
    if running:
        usage = _usage(running)
        print(
            f"  running  {shlex.join(running['argv'] or [])}  pid {running['job_pid']}  "
            f"{format_duration(now - (running['since'] or now))}  "
            f"backend {running['backend']}{usage}"
        )
    if slot["unsupervised"]:
        print(f"  {_describe_unsupervised(slot['unsupervised'])}")
    for place, waiter in enumerate(slot["waiting"], 1):
        print(
            f"  waiting  {place}. {shlex.join(waiter['argv'] or ['?'])}  pid {waiter['pid']}  "
            f"for {format_duration(now - (waiter['since'] or now))}"
        )


def _describe_unsupervised(found: dict[str, Any]) -> str:
    argv, supervisor = shlex.join(found["argv"]), found["supervisor_pid"]
    head = f"unsupervised  {argv}: supervisor pid {supervisor} died"
    if found["problem"]:
        return f"unsupervised  a holder record that is {found['problem']}"
    if not found["job_running"]:
        return f"{head}; job pid {found['job_pid']} ended; 'cgseq doctor --clean' ends what it left"
    late = ""
    if found["past_timeout"]:
        late = f", past its timeout of {format_duration(found['timeout'])}"
    return (
        f"{head}; job pid {found['job_pid']} still running{late} "
        f"(running {format_duration(found['running_for'])}, backend {found['backend']}); "
        "'cgseq doctor --clean' or the next run here ends it"
    )


def _usage(holder: dict[str, Any]) -> str:
    limit = (holder.get("limits") or {}).get("memory")
    now, peak = holder.get("memory_now"), holder.get("peak_memory")
    if now is None and peak is None:
        return ""
    limit_text = f" / limit {format_size(limit)}" if limit else ""
    return f"  memory {format_size(now)} (peak {format_size(peak)}{limit_text})"
