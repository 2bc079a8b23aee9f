"""Figure 2: from the end of job 1 to the start of job 2 queued behind it."""

from __future__ import annotations

from bench.figures.common import judge, scene_error, scenes
from bench.model import Cell, Context, FigureResult, Row
from bench.scenes import bare_handoff_floor
from bench.stats import Summary

TARGET_SECONDS = 0.010


def run(ctx: Context) -> FigureResult:
    """Hand-off with one waiter, repeated; plus the floor (bench waits, then spawns)."""
    result = FigureResult("handoff")
    row = Row("2 hand-off", "job 1 end → job 2 start, 1 waiter (× py)", {})
    for runner in ctx.all_runners():
        results = scenes(ctx, runner, 1)
        gaps = [g for r in results for g in r.handoffs]
        summary = Summary.of(gaps)
        error = scene_error(results)
        row.cells[runner.key] = (
            Cell.time(summary, ctx.baselines) if summary else Cell.error(error or "no samples")
        )
        result.raw[runner.key] = [r.to_json() for r in results]
    floor = Summary.of(bare_handoff_floor(max(10, 3 * ctx.settings.handoff_repeats)))
    result.raw["floor_s"] = floor.to_json() if floor else None
    if floor:
        row.baseline = "floor " + Cell.time(floor, None).text
        result.notes.append(
            "hand-off floor: the bench itself waits for a job's exit, then spawns the next job"
        )
    judge(row, ctx, f"≤ {TARGET_SECONDS * 1e3:.0f} ms", lambda v: v <= TARGET_SECONDS)
    result.rows = [row]
    return result
