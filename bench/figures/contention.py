"""Figure 3: N jobs submitted 50 ms apart; concurrency, FIFO order, makespan, lost jobs.

Each job appends ``s INDEX PID NS`` when it starts and ``e INDEX PID NS`` when it ends (shell
``>>``, i.e. O_APPEND) to one log, and sleeps in between so a queue builds up for every tool.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from bench.figures.common import judge
from bench.model import Cell, Context, FigureResult, Row
from bench.processes import stop_all, wait_for
from bench.runners import BenchError, Job, PopenJob, Runner
from bench.workspace import Workspace

DISTINCT_NS = 10_000_000  # submissions closer than 10 ms have no defined order


def job_cmd(log: Path, index: int, seconds: float) -> list[str]:
    """A job that logs its start, sleeps ``seconds`` and logs its end."""
    script = (
        f'echo s {index} $$ $(date +%s%N) >> "$0"; sleep {seconds}; '
        f'echo e {index} $$ $(date +%s%N) >> "$0"'
    )
    return ["sh", "-c", script, str(log)]


def read_log(log: Path) -> tuple[dict[int, int], dict[int, int]]:
    """Start and end timestamps (ns) by job index."""
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0] in ("s", "e"):
                (starts if parts[0] == "s" else ends)[int(parts[1])] = int(parts[3])
    return starts, ends


def analyse(
    n: int, submitted: list[int], starts: dict[int, int], ends: dict[int, int]
) -> dict[str, Any]:
    """Max concurrency, FIFO inversions, makespan vs the jobs' own run time, lost jobs.

    An inversion is a pair started against submission order; pairs the bench submitted less
    than ``DISTINCT_NS`` apart (it fell behind its schedule) have no defined order and are
    counted apart, as ``ambiguous``.
    """
    events = sorted([(t, 1) for t in starts.values()] + [(t, -1) for t in ends.values()])
    running = peak = 0
    for _, step in events:  # at equal times ends (-1) sort first: touching is not overlapping
        running += step
        peak = max(peak, running)
    order = sorted(starts, key=lambda i: starts[i])  # submission indices in start order
    pairs = [(order[a], b) for a in range(len(order)) for b in order[a + 1 :] if b < order[a]]
    inverted = [(a, b) for a, b in pairs if submitted[a] - submitted[b] >= DISTINCT_NS]
    gaps = [b - a for a, b in itertools.pairwise(submitted)]
    done = [i for i in starts if i in ends]
    ideal = sum(ends[i] - starts[i] for i in done) / 1e9
    makespan = (max(ends.values()) - min(starts.values())) / 1e9 if done else 0.0
    return {
        "jobs": n,
        "max_concurrency": peak,
        "fifo_inversions": len(inverted),
        "inverted_pairs": inverted[:20],  # (started earlier, submitted earlier) by job index
        "ambiguous_inversions": len(pairs) - len(inverted),
        "submission_gap_ms": {"min": min(gaps) / 1e6, "max": max(gaps) / 1e6} if gaps else None,
        "makespan_s": makespan,
        "ideal_s": ideal,
        "makespan_ratio": makespan / ideal if ideal else None,
        "lost": n - len(done),
    }


def one_run(runner: Runner, n: int, ctx: Context) -> dict[str, Any]:
    """Submit ``n`` jobs ``contention_gap`` apart, wait for all (bounded), analyse the log."""
    settings = ctx.settings
    with Workspace(f"contention-{runner.key}-{n}") as ws:
        slot = runner.open(ws, "contention")
        log = ws.path("events.log")
        jobs: list[Job] = []
        submitted: list[int] = []
        start = time.monotonic()
        try:
            for i in range(n):
                time.sleep(max(0.0, start + i * settings.contention_gap - time.monotonic()))
                submitted.append(time.monotonic_ns())
                jobs.append(slot.submit(job_cmd(log, i, settings.contention_job)))
            budget = n * (settings.contention_job + 1.0) + 30
            wait_for(lambda: len(read_log(log)[1]) >= n, budget, interval=0.05)
            wait_for(lambda: all(j.poll() is not None for j in jobs), 10, interval=0.05)
        finally:
            stop_all([j.popen for j in jobs if isinstance(j, PopenJob)])
            for job in jobs:
                if not isinstance(job, PopenJob):
                    job.stop()
            slot.close()
        stats = analyse(n, submitted, *read_log(log))
    stats["wall_s"] = time.monotonic() - start
    return stats


METRICS = (
    ("max_concurrency", "max concurrency", "= 1", lambda v: v == 1),
    ("fifo_inversions", "FIFO inversions", "0", lambda v: v == 0),
    ("makespan_ratio", "makespan / sum of job run times", "", None),
    ("lost", "jobs lost", "0", lambda v: v == 0),
)


def run(ctx: Context) -> FigureResult:
    """Every queue runner at every contention size; one row per metric and size."""
    result = FigureResult("contention")
    for n in ctx.settings.contention_sizes:
        runs: dict[str, dict[str, Any]] = {}
        for runner in ctx.queue_runners():
            try:
                runs[runner.key] = one_run(runner, n, ctx)
            except (BenchError, OSError) as exc:
                runs[runner.key] = {"error": str(exc)}
        result.raw[str(n)] = runs
        for field, label, target, ok in METRICS:
            row = Row(f"3 contention, {n} jobs", label, {})
            for key, stats in runs.items():
                value = stats.get(field)
                if "error" in stats:
                    row.cells[key] = Cell.error(stats["error"])
                elif value is None:
                    row.cells[key] = Cell.na("–")
                else:
                    text = f"{value:.2f}×" if field == "makespan_ratio" else f"{value:g}"
                    row.cells[key] = Cell.scalar(value, text=text)
            if ok is not None and n == max(ctx.settings.contention_sizes):
                judge(row, ctx, target, ok)
            result.rows.append(row)
    result.notes.append(
        f"contention: jobs sleep {ctx.settings.contention_job:g} s each and are submitted "
        f"{ctx.settings.contention_gap * 1e3:.0f} ms apart; makespan = last end − first start; "
        "inversions count pairs started against submission order, except pairs the bench "
        "(behind schedule on a busy machine) submitted < 10 ms apart (in the JSON as ambiguous)"
    )
    return result
