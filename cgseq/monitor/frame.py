"""A view (:func:`cgseq.monitor.data.gather`) as text lines: pure, for any width and height.

Sections, top to bottom: the header, then per project its running job (command, ids,
memory bar, processes), the job's largest processes and its queue, then the recent
finished jobs. Each line is cut to the width, never wrapped; when the height is short,
sections are dropped from the bottom (whole, so nothing shown is half a table).
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Iterator
from typing import Any

from cgseq.units import format_duration, format_size

BAR = 20  # cells of the memory bar at 80 columns; fewer on a narrow terminal
Section = list[str]


def render(view: dict[str, Any], width: int, height: int, selected: int | None = None) -> list[str]:
    """At most ``height`` lines of at most ``width`` characters; ``selected``: the waiter
    (counted over every project, in order) the cursor is on."""
    shown: list[str] = []
    for section in sections(view, width, selected):
        if len(shown) + len(section) > height:
            break
        shown += section
    return [render_line(line, width) for line in shown]


def sections(view: dict[str, Any], width: int, selected: int | None) -> Iterator[Section]:
    yield [_header(view)]
    if not view["slots"]:
        yield ["no jobs running or waiting" + ("" if view["scope"] == "all" else " here")]
    place = 0
    for slot in view["slots"]:
        yield from _slot(slot, width)
        yield _queue(slot, selected, place)
        place += len(slot["waiting"])
    yield _recent(view)


def waiters(view: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every waiter with its slot, in the order the cursor moves over them."""
    return [(slot, waiter) for slot in view["slots"] for waiter in slot["waiting"]]


def command(argv: list[str] | None) -> str:
    """The command line as a shell would take it, its program by its name (the columns
    go to the arguments)."""
    if not argv:
        return "?"
    return shlex.join([os.path.basename(argv[0]), *argv[1:]])


def _header(view: dict[str, Any]) -> str:
    clock = time.strftime("%H:%M:%S", time.localtime(view["taken_at"]))
    scope = "every project" if view["scope"] == "all" else "this project"
    return f"cgseq monitor  {clock}  {scope}"


def _slot(slot: dict[str, Any], width: int) -> Iterator[Section]:
    name = f"lock {slot['lock']}" if slot["lock"] else slot["where"]
    job = slot["running"]
    if job is None:
        state = "its supervisor died" if slot["unsupervised"] else "no job running"
        yield ["", f"{name}: {state}"]
        return
    yield [
        "",
        f"{name}: running {command(job['argv'])}",
        f"  id {job['id']}  pid {job['pid']}  elapsed {format_duration(job['elapsed'])}"
        f"  backend {job['backend']}",
        "  memory    " + memory_bar(job["memory"], width),
        "  processes " + _figure(job["pids"], str),
    ]
    if job.get("largest"):
        yield _largest(job["largest"])


def memory_bar(memory: dict[str, Any], width: int) -> str:
    """``[#####.....] 1.2G / 2G (kernel: memory.max)``; no bar without a limit."""
    now, limit = memory["now"], memory["limit"]
    figure = _figure(memory, format_size)
    if not limit or now is None:
        return figure
    cells = max(5, min(BAR, (width - 50) // 2 + 10))
    full = min(cells, round(cells * now / limit))
    return f"[{'#' * full}{'.' * (cells - full)}] {figure}"


def _figure(figure: dict[str, Any], show: Any) -> str:
    now, peak, limit = figure["now"], figure["peak"], figure["limit"]
    text = show(now) if now is not None else "?"
    text += f" / {show(limit)}" if limit is not None else " (no limit)"
    text += f"  peak {show(peak)}" if peak is not None else ""
    if limit is not None:  # last: what a narrow terminal cuts first
        text += f"  ({figure['enforced_by'] or 'NOT enforced'})"
    return text


def _largest(processes: list[dict[str, Any]]) -> Section:
    rows = [f"  {'PID':>8} {'RSS':>7}  COMMAND"]
    rows += [f"  {p['pid']:>8} {format_size(p['rss']):>7}  {p['command']}" for p in processes]
    return rows


def _queue(slot: dict[str, Any], selected: int | None, first: int) -> Section:
    if not slot["waiting"]:
        return ["  queue: nobody waiting"]
    rows = [f"  queue: {len(slot['waiting'])} waiting"]
    for number, waiter in enumerate(slot["waiting"], first):
        cursor = ">" if number == selected else " "
        rows.append(
            f"  {cursor} {waiter['place']}. {waiter['id'] or '-'}  pid {waiter['pid']}  "
            f"waited {format_duration(waiter['waited'])}  {command(waiter['argv'])}"
        )
    return rows


def _recent(view: dict[str, Any]) -> Section:
    if "recent_error" in view:
        return ["", f"history unavailable: {view['recent_error']}"]
    jobs = view.get("recent") or []
    if not jobs:
        return ["", "recent jobs: none yet"]
    rows = ["", f"recent jobs  {'ID':>5}  {'OUTCOME':<9} {'PEAK':>6} {'TIME':>6}  COMMAND"]
    for job in reversed(jobs):  # the newest first, under the heading
        peak = format_size(job["peak"]) if job["peak"] is not None else "-"
        rows.append(
            f"             {job['id']:>5}  {job['outcome']:<9} {peak:>6} "
            f"{format_duration(job['duration']):>6}  {job['command']}"
        )
    return rows


def render_line(line: str, width: int) -> str:
    """One screen line: what the terminal would act on (a newline, an escape) is shown as
    ``?``, and the line is cut at the width."""
    return "".join(c if c.isprintable() else "?" for c in line)[: max(0, width)]
