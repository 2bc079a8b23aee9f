"""``cgseq watch PID``: follow the memory of a process (and its children) cgseq did not start.

One line per sample: the tree's total RSS, its growth per minute, the largest processes.
Report-only: it never signals what it watches. It ends when the process is gone (exit 0, with
a last line), after ``--count`` samples, or on ^C. ``--json``: one JSON object per line.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from typing import Any

from cgseq import units
from cgseq.errors import UsageError
from cgseq.memwatch import Sample, Watched

JSON_VERSION = 1
DEFAULT_INTERVAL = 1.0
MIN_INTERVAL = 0.1  # each sample reads every process of the tree: a tenth of a second at most
LARGEST = 3  # processes named on a line (80 columns); --json gives 5
LARGEST_JSON = 5


def watch_command(
    *, pid: str | None, interval: str | None, count: str | None, as_json: bool
) -> int:
    watched = Watched(_pid(pid))
    if not watched.alive():
        raise UsageError(f"no process {watched.pid} to watch")
    every = units.parse_interval(interval, DEFAULT_INTERVAL, MIN_INTERVAL)
    samples = units.parse_limit(count, "--count")
    try:
        ended = _follow(watched, every, samples, as_json)
    except KeyboardInterrupt:
        ended = "stopped"
    _end(watched, ended, as_json)
    return 0


def _pid(text: str | None) -> int:
    if text is None:
        raise UsageError("cgseq watch needs a PID: cgseq watch PID [--interval DUR]")
    value = units.parse_count(text, "PID", minimum=1, maximum=1 << 22, unlimited=False)
    assert value is not None
    return value


def _follow(watched: Watched, every: float, samples: int | None, as_json: bool) -> str:
    """Sample until the process is gone ("gone") or ``samples`` were taken ("stopped")."""
    taken = 0
    while samples is None or taken < samples:
        if taken:
            time.sleep(every)
        sample = watched.sample()
        if sample is None:
            return "gone"
        taken += 1
        _print(_json_line(watched, sample) if as_json else _fit(_line(watched, sample)))
    return "stopped"


def _fit(line: str) -> str:
    """A line cut to the terminal's width; into a pipe or a file, whole."""
    if not sys.stdout.isatty():
        return line
    return line[: shutil.get_terminal_size((80, 24)).columns]


def _print(line: str) -> None:
    print(line, flush=True)  # a reader at the other end of a pipe sees each sample as it comes


def _line(watched: Watched, sample: Sample) -> str:
    growth = watched.growth_per_minute()
    rate = "" if growth is None else f"  {_signed(growth)}/min"
    largest = ", ".join(
        f"{p.command} {p.pid} {units.format_size(p.rss)}" for p in sample.processes[:LARGEST]
    )
    clock = time.strftime("%H:%M:%S", time.localtime(sample.wall))
    count = len(sample.processes)
    return (
        f"{clock}  total {units.format_size(sample.total)}{rate}  "
        f"{count} process{'es' if count != 1 else ''}  largest: {largest}"
    )


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "-") + units.format_size(int(abs(value)))


def _json_line(watched: Watched, sample: Sample) -> str:
    body: dict[str, Any] = {
        "event": "sample",
        "pid": watched.pid,
        "time": round(sample.wall, 3),
        "elapsed": round(sample.at - watched.started, 3),
        "total_rss": sample.total,
        "growth_per_minute": _rounded(watched.growth_per_minute()),
        "processes": len(sample.processes),
        "largest": [p._asdict() for p in sample.processes[:LARGEST_JSON]],
    }
    return json.dumps({"version": JSON_VERSION, **body})


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)


def _end(watched: Watched, ended: str, as_json: bool) -> None:
    elapsed = time.monotonic() - watched.started
    if as_json:
        body = {
            "event": ended,
            "pid": watched.pid,
            "elapsed": round(elapsed, 3),
            "peak_rss": watched.peak,
        }
        _print(json.dumps({"version": JSON_VERSION, **body}))
        return
    what = "is gone" if ended == "gone" else "still runs; stopped watching"
    peak = units.format_size(watched.peak) if watched.peak else "-"
    _print(f"pid {watched.pid} {what} after {units.format_duration(elapsed)}; peak total {peak}")
