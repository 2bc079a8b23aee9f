"""``cgseq history stats``: per command, how often it ran and failed, how long, how much memory,
and whether its peak memory keeps growing. Pure: takes jobs, returns figures.

A *command* is the job's command line as shown (``argv[0]``'s base name and every argument,
:func:`cgseq.history.rows.command_of`) in its project: ``pytest -x tests/a.py`` and ``pytest
tests/b.py`` are two commands, and so are ``make test`` in two projects. The trend looks at
the peak memory of the last ``TREND_RUNS`` runs that have one: the least-squares slope per run,
and "growing" when it rose by at least ``GROWTH`` of its first value over those runs, with at
least two of three steps up ("shrinking" the other way round), else "steady"; fewer than three
runs are too few to say.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from cgseq.history.jobs import Job

TREND_RUNS = 10
GROWTH = 0.10  # of the first peak: less is noise (allocator, page cache)
MIN_TREND_RUNS = 3


class Trend(NamedTuple):
    direction: str  # growing, shrinking, steady, or "-" (too few runs)
    slope: float | None  # bytes per run
    runs: int  # how many peaks it looked at


class CommandStats(NamedTuple):
    project: str
    command: str
    runs: int
    failures: int
    median_duration: float
    max_duration: float
    median_peak: float | None
    max_peak: int | None
    trend: Trend

    def to_json(self) -> dict[str, Any]:
        data = self._asdict()
        data["trend"] = self.trend._asdict()
        return data


def per_command(jobs: Iterable[Job]) -> list[CommandStats]:
    """One entry per (project, command), in order of each command's latest run (oldest first).

    ``jobs`` are in the order they ran (oldest first).
    """
    groups: dict[tuple[str, str], list[Job]] = {}
    for job in jobs:
        key = (job.project, job.command)
        runs = groups.pop(key, [])  # re-inserted: the dict keeps the order of latest runs
        runs.append(job)
        groups[key] = runs
    return [_stats(project, command, runs) for (project, command), runs in groups.items()]


def _stats(project: str, command: str, jobs: Sequence[Job]) -> CommandStats:
    durations = [job.duration for job in jobs]
    peaks = [job.peak_memory for job in jobs if job.peak_memory is not None]
    return CommandStats(
        project=project,
        command=command,
        runs=len(jobs),
        failures=sum(1 for job in jobs if job.failed),
        median_duration=statistics.median(durations),
        max_duration=max(durations),
        median_peak=statistics.median(peaks) if peaks else None,
        max_peak=max(peaks) if peaks else None,
        trend=trend(peaks[-TREND_RUNS:]),
    )


def trend(peaks: Sequence[int]) -> Trend:
    """The direction of ``peaks`` (in the order the runs ran); see the module docstring."""
    if len(peaks) < MIN_TREND_RUNS:
        return Trend("-", None, len(peaks))
    slope = _slope(peaks)
    steps = list(itertools.pairwise(peaks))
    ups = sum(1 for a, b in steps if b > a)
    downs = sum(1 for a, b in steps if b < a)
    change = (peaks[-1] - peaks[0]) / max(peaks[0], 1)
    if slope > 0 and change >= GROWTH and ups * 3 >= len(steps) * 2:
        return Trend("growing", slope, len(peaks))
    if slope < 0 and -change >= GROWTH and downs * 3 >= len(steps) * 2:
        return Trend("shrinking", slope, len(peaks))
    return Trend("steady", slope, len(peaks))


def _slope(values: Sequence[int]) -> float:
    """Least-squares slope of ``values`` against their index."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    spread = sum((x - mean_x) ** 2 for x in range(n))
    return sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values)) / spread
