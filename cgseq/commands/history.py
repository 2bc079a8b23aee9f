"""``cgseq history``: the jobs that ran, one job in full with its memory chart, per-command stats.

``cgseq history [-n N] [--failed] [--all | --project P] [--json]`` lists the last jobs of this
project (oldest first); ``cgseq history show ID`` shows one; ``cgseq history stats`` gives
figures per command. ``--json`` prints one object ``{"version": 1, ...}`` (README: History).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

from cgseq import units
from cgseq.errors import UsageError
from cgseq.history import chart, queries, stats, store
from cgseq.history.jobs import Job
from cgseq.project import slot_for

JSON_VERSION = 1
DEFAULT_COUNT = 20
ACTIONS = ("list", "show", "stats")


def history_command(
    *,
    action: str | None,
    ref: str | None,
    count: str | None,
    as_json: bool,
    failed: bool,
    all_projects: bool,
    project: str | None,
) -> int:
    action = action or "list"
    _readable_output()
    _check(action, ref, count, failed, all_projects, project)
    scope = None if all_projects else slot_for(project or os.getcwd(), None).project
    limit = units.parse_count(count, "-n", unlimited=False) if count is not None else None
    if action == "show":
        assert ref is not None
        return _show(ref, as_json)
    if action == "stats":
        return _stats(scope, limit, as_json)
    return _list(scope, limit or DEFAULT_COUNT, failed, as_json)


def _check(
    action: str,
    ref: str | None,
    count: str | None,
    failed: bool,
    all_projects: bool,
    project: str | None,
) -> None:
    """Every flag is honoured or refused, never dropped."""
    if action not in ACTIONS:
        hint = f"; to show a job: cgseq history show {action}" if action.isdigit() else ""
        raise UsageError(f"unknown history action {action!r}: expected show ID or stats{hint}")
    if all_projects and project is not None:
        raise UsageError("--all and --project exclude each other")
    if (action == "show") != (ref is not None):
        raise UsageError(
            "cgseq history show takes one ID" if ref is None else f"unexpected {ref!r}"
        )
    given = {"-n": count is not None, "--failed": failed, "--all": all_projects}
    given["--project"] = project is not None
    unused = {"show": list(given), "stats": ["--failed"], "list": []}[action]
    refused = [flag for flag in unused if given[flag]]
    if refused:
        raise UsageError(f"{refused[0]} does not apply to 'cgseq history {action}'")


def _readable_output() -> None:
    """A command line in any encoding is printed, escaped where stdout cannot take it."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")


# ---------------------------------------------------------------- list


def _list(scope: str | None, count: int, failed: bool, as_json: bool) -> int:
    with store.opened() as db:
        jobs = queries.recent(db, scope, count, failed)
    if as_json:
        body = {"project": scope, "jobs": [job.to_json(timeline=False) for job in jobs]}
        return _print_json(body)
    if not jobs:
        where = "" if scope is None else f" for {scope}"
        print(f"no jobs in the history{where}")
        return 0
    width = _columns()
    print(f"{'ID':>6}  {'STARTED':<11}  {'TIME':>6}  {'OUTCOME':<9} {'PEAK':>6}  COMMAND")
    for job in jobs:
        print(_list_line(job, scope is None)[:width])
    return 0


def _list_line(job: Job, with_project: bool) -> str:
    command = f"[{os.path.basename(job.project)}] {job.command}" if with_project else job.command
    return (
        f"{job.id:>6}  {_started(job, '%m-%d %H:%M'):<11}  "
        f"{units.format_duration(job.duration):>6}  {job.outcome():<9} "
        f"{_size(job.peak_memory):>6}  {command}"
    )


def _started(job: Job, form: str) -> str:
    return time.strftime(form, time.localtime(job.started)) if job.started else "imported"


def _size(value: int | None) -> str:
    return "-" if value is None else units.format_size(value)


def _columns() -> int:
    return shutil.get_terminal_size((80, 24)).columns


def _print_json(body: dict[str, Any]) -> int:
    print(json.dumps({"version": JSON_VERSION, **body}, indent=2))
    return 0


# ---------------------------------------------------------------- show


def _show(ref: str, as_json: bool) -> int:
    with store.opened() as db:
        job = queries.find(db, ref)
    if job is None:
        raise UsageError(f"no job {ref!r} in the history (see 'cgseq history --all')")
    if as_json:
        return _print_json({"job": job.to_json()})
    width = _columns()
    for name, value in _fields(job):
        print(_field(name, value, width))
    print()
    for line in _chart(job):
        print(line)
    return 0


def _field(name: str, value: str, width: int) -> str:
    """``  name       value``, the value wrapped below itself to the terminal's width."""
    import textwrap

    head = f"  {name:<10} "
    lines = textwrap.wrap(value, max(20, width - len(head)), break_on_hyphens=False) or [""]
    return head + ("\n" + " " * len(head)).join(lines)


def _fields(job: Job) -> list[tuple[str, str]]:
    queued = f" (queued {units.format_duration(job.queue_wait)})" if job.queue_wait else ""
    shown = [
        ("job", f"{job.id} ({job.job_id or 'no job id'})"),
        ("command", job.command),
        ("cwd", job.cwd),
        ("project", job.project + (f" (lock {job.lock})" if job.lock else "")),
        ("started", _started(job, "%Y-%m-%d %H:%M:%S") + queued),
        ("duration", units.format_duration(job.duration) + _attempts(job)),
        ("outcome", _outcome(job)),
        ("backend", job.backend),
        ("limits", _limits(job)),
        ("peak", f"memory {_size(job.peak_memory)}, processes {_count(job.peak_pids)}"),
    ]
    shown += _optional(job)
    return shown


def _attempts(job: Job) -> str:
    return f" ({job.attempts} attempts)" if job.attempts > 1 else ""


def _outcome(job: Job) -> str:
    detail = f": {job.detail}" if job.detail else ""
    return f"{job.outcome()}{detail} (exit {job.exit_code})"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _limits(job: Job) -> str:
    forms: dict[str, Callable[[Any], str]] = {
        "memory": units.format_size,
        "swap": units.format_size,
        "pids": lambda v: "max" if v is None else str(v),
        "timeout": units.format_duration,
        "kill_grace": units.format_duration,
    }
    parts = []
    for name, show in forms.items():
        if name in job.limits:
            how = job.enforcement.get(name)
            label = name.replace("_", "-")
            parts.append(f"{label} {show(job.limits[name])}" + (f" ({how})" if how else ""))
    return ", ".join(parts) or "-"


def _optional(job: Job) -> list[tuple[str, str]]:
    shown = []
    top = (job.timeline or {}).get("top")
    if top:
        shown.append(("largest", f"{top['command']} pid {top['pid']} {_size(top['rss'])}"))
    if job.psi:
        some, full = (job.psi.get(k) for k in ("some_usec", "full_usec"))
        shown.append(("pressure", f"some {_usec(some)}, full {_usec(full)} stalled on memory"))
    shown += [("warning", line) for line in job.warnings]
    shown += [("leftover", line) for line in job.leftovers_killed]
    shown += [("shm file", line) for line in job.shm_files]
    return shown


def _usec(value: int | None) -> str:
    return "-" if value is None else units.format_duration(value / 1e6)


def _chart(job: Job) -> list[str]:
    timeline = job.timeline or {}
    points = timeline.get("points") or []
    if not points:
        return ["memory: no timeline recorded for this job"]
    peak = timeline.get("peak") or max(points, key=lambda p: p[1])
    limit = job.memory_limit
    against = f", limit {units.format_size(limit)}" if limit else ", no limit"
    head = f"memory: peak {_size(peak[1])} at {units.format_duration(peak[0])}{against}"
    killed = job.reason if job.reason in ("memory", "pids", "timeout", "interrupted") else None
    glyphs = chart.glyphs_for(sys.stdout.encoding)
    return [
        head,
        *chart.draw(points, limit, width=min(_columns(), 100), glyphs=glyphs, killed=killed),
    ]


# ---------------------------------------------------------------- stats


def _stats(scope: str | None, count: int | None, as_json: bool) -> int:
    with store.opened() as db:
        jobs = queries.recent(db, scope, count)
    figures = stats.per_command(jobs)
    if as_json:
        return _print_json({"project": scope, "commands": [f.to_json() for f in figures]})
    if not figures:
        print("no jobs in the history" + ("" if scope is None else f" for {scope}"))
        return 0
    width = _columns()
    heads = f"{'RUNS':>4} {'FAIL':>4} {'TIME':>6} {'MAX':>6} {'PEAK':>6} {'MAX':>6}"
    print(f"{'COMMAND':<22} {heads}  TREND")
    for figure in figures:
        print(_stats_line(figure, scope is None)[:width])
    return 0


def _stats_line(figure: stats.CommandStats, with_project: bool) -> str:
    command = figure.command
    if with_project:
        command = f"[{os.path.basename(figure.project)}] {command}"
    command = command if len(command) <= 22 else command[:21] + "~"
    median_peak = None if figure.median_peak is None else int(figure.median_peak)
    return (
        f"{command:<22} {figure.runs:>4} {figure.failures:>4} "
        f"{units.format_duration(figure.median_duration):>6} "
        f"{units.format_duration(figure.max_duration):>6} "
        f"{_size(median_peak):>6} {_size(figure.max_peak):>6}  {_trend(figure.trend)}"
    )


def _trend(trend: stats.Trend) -> str:
    if trend.slope is None:
        return "-"
    sign = "+" if trend.slope >= 0 else "-"
    return f"{trend.direction} {sign}{units.format_size(int(abs(trend.slope)))}/run"
