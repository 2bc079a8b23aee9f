"""``cgseq status [--all] [--json]``: who runs (memory and processes against the limits, and
what enforces each), who waits, and what dead supervisors left running.

The figures come from :func:`cgseq.snapshot.take`, which the monitor shows too; the JSON is
that snapshot (schema in the README, ``"version"`` :data:`cgseq.snapshot.VERSION`).
"""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

from cgseq import snapshot
from cgseq.units import format_duration, format_size


def status_command(*, as_json: bool, every: bool) -> int:
    taken = snapshot.take(None if every else os.getcwd())
    if as_json:
        print(json.dumps(taken, indent=2))
        return 0
    if not taken["slots"] and not taken["orphans"]:
        print("no jobs running or waiting" + ("" if every else " in this project"))
    for slot in taken["slots"]:
        _print_slot(slot)
    for orphan in taken["orphans"]:
        print(
            f"orphaned group {orphan['id']}: {orphan['processes']} process(es) of a dead "
            "supervisor still running; 'cgseq doctor --clean' or the next run ends them"
        )
    return 0


def _print_slot(slot: dict[str, Any]) -> None:
    name = f"lock {slot['lock']}" if slot["lock"] else slot["slot"]
    print(f"{slot['where']}  [{name}]")
    if slot["running"]:
        print(f"  running  {_running(slot['running'])}")
    if slot["unsupervised"]:
        print(f"  {_describe_unsupervised(slot['unsupervised'])}")
    for waiter in slot["waiting"]:
        waited = format_duration(waiter["waited"])
        print(
            f"  waiting  {waiter['place']}. {_argv(waiter['argv'])}  "
            f"id {waiter['id'] or '-'}  pid {waiter['pid']}  for {waited}"
        )


def _running(job: dict[str, Any]) -> str:
    head = (
        f"{_argv(job['argv'])}  id {job['id']}  pid {job['pid']}  "
        f"{format_duration(job['elapsed'])}  backend {job['backend']}"
    )
    return head + _figure("memory", job["memory"], format_size) + _figure("pids", job["pids"], str)


def _figure(name: str, figure: dict[str, Any], show: Any) -> str:
    now, peak, limit = figure["now"], figure["peak"], figure["limit"]
    if now is None and peak is None and limit is None:
        return ""
    text = f"  {name} {show(now) if now is not None else '?'}"
    text += f" (peak {show(peak)})" if peak is not None else ""
    if limit is not None:
        text += f" / limit {show(limit)} ({figure['enforced_by'] or 'NOT enforced'})"
    return text


def _argv(argv: list[str] | None) -> str:
    return shlex.join(argv) if argv else "?"


def _describe_unsupervised(found: dict[str, Any]) -> str:
    if found["problem"]:
        return f"unsupervised  a holder record that is {found['problem']}"
    argv, supervisor = _argv(found["argv"]), found["supervisor_pid"]
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
