"""``cgseq status``: for every slot, who runs (memory now and peak) and who waits."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Any

from cgseq import jobids, procfs
from cgseq.statedir import state_dir
from cgseq.turns import live_tickets, read_json, slot_taken
from cgseq.units import format_duration, format_size


def status_command(*, as_json: bool) -> int:
    slots = [_slot(path) for path in sorted((state_dir() / "slots").glob("*"))]
    busy = [slot for slot in slots if slot["running"] or slot["waiting"] or slot["unsupervised"]]
    if as_json:
        print(json.dumps({"slots": busy}, indent=2))
        return 0
    if not busy:
        print("no jobs running or waiting")
    for slot in busy:
        _print_slot(slot)
    return 0


def _slot(path: Path) -> dict[str, Any]:
    queue = live_tickets(path)
    holder = read_json(path / "holder.json")
    running = None
    if queue and holder and holder.get("pid") == queue[0].get("pid"):
        running = holder
    waiting = queue[1:] if running or (queue and slot_taken(path)) else queue
    unsupervised = _unsupervised(path, holder) if holder and not running else None
    shown = running or (unsupervised and holder) or (queue[0] if queue else {})
    label = shown.get("cwd", path.name)
    return {
        "slot": path.name,
        "where": label,
        "running": running,
        "waiting": waiting,
        "unsupervised": unsupervised,
    }


def _unsupervised(path: Path, holder: dict[str, Any]) -> dict[str, Any] | None:
    """A holder record while nobody holds the slot: its supervisor died, maybe not its job.

    (A holder removes its record before it lets go of the slot, so the free lock is proof.)
    The record is data anyone with the state dir could have written: only shown, never acted on.
    """
    if slot_taken(path):
        return None
    job_id, job_pid = str(holder.get("job_id", "")), holder.get("job_pid")
    alive = isinstance(job_pid, int) and _is_job(job_pid, job_id)
    elapsed = _running_for(job_pid, holder) if alive and isinstance(job_pid, int) else None
    limits = holder.get("limits")
    timeout = _number(limits.get("timeout") if isinstance(limits, dict) else None)
    argv = holder.get("argv")
    return {
        "supervisor_pid": holder.get("pid"),
        "job_pid": job_pid,
        "job_id": job_id,
        "job_running": alive,
        "argv": [str(arg) for arg in argv] if isinstance(argv, list) else [],
        "backend": holder.get("backend"),
        "running_for": elapsed,
        "timeout": timeout,
        "past_timeout": bool(elapsed is not None and timeout and elapsed > timeout),
    }


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # a record is data: a wrong type is shown as unknown, never a traceback
    return float(value)


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


def _running_for(pid: int, holder: dict[str, Any]) -> float:
    """Seconds since the job started, by the kernel's start time where there is /proc.

    The boot clock (:func:`cgseq.procfs.age`), so a step of the wall clock does not change
    it; else the record's wall-clock ``since``.
    """
    age = procfs.age(pid)
    if age is not None:
        return age
    since = _number(holder.get("since"))
    return max(0.0, time.time() - since) if since is not None else 0.0


def _print_slot(slot: dict[str, Any]) -> None:
    now = time.time()
    print(f"{slot['where']}  [{slot['slot']}]")
    running = slot["running"]
    if running:
        usage = _usage(running)
        print(
            f"  running  {shlex.join(running.get('argv', []))}  pid {running.get('job_pid')}  "
            f"{format_duration(now - running.get('since', now))}  "
            f"backend {running.get('backend')}{usage}"
        )
    if slot["unsupervised"]:
        print(f"  {_describe_unsupervised(slot['unsupervised'])}")
    for place, waiter in enumerate(slot["waiting"], 1):
        print(
            f"  waiting  {place}. {shlex.join(waiter.get('argv', []))}  pid {waiter.get('pid')}  "
            f"for {format_duration(now - waiter.get('since', now))}"
        )


def _describe_unsupervised(found: dict[str, Any]) -> str:
    argv, supervisor = shlex.join(found["argv"]), found["supervisor_pid"]
    head = f"unsupervised  {argv}: supervisor pid {supervisor} died"
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
