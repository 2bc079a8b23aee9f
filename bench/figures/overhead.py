"""Figure 1: the cost of one ``RUNNER true`` over bare ``true``."""

from __future__ import annotations

from bench.figures.common import judge
from bench.model import Cell, Context, FigureResult, Row
from bench.runners import BenchError
from bench.stats import Summary
from bench.workspace import Workspace

TARGET_RATIO = 2.5


def run(ctx: Context) -> FigureResult:
    """Time ``RUNNER true`` for every runner, interleaved round by round, after one warm-up."""
    result = FigureResult("overhead")
    runners = ctx.all_runners()
    walls: dict[str, list[float]] = {r.key: [] for r in runners}
    errors: dict[str, str] = {}
    with Workspace("overhead") as ws:
        slots = {r.key: r.open(ws, "overhead") for r in runners}
        try:
            for i in range(ctx.settings.repeats + 1):
                for key, slot in slots.items():
                    if key in errors:
                        continue
                    try:
                        done = slot.run(["true"], timeout=60)
                    except BenchError as exc:
                        errors[key] = str(exc)
                        continue
                    if done.returncode != 0:
                        errors[key] = f"exit {done.returncode}: {done.stderr_tail()}"
                    elif i:
                        walls[key].append(done.wall)
        finally:
            for slot in slots.values():
                slot.close()
    total, over = Row("1 overhead", "wall of `RUNNER true`", {}), Row("1 overhead", "", {})
    over.metric = "overhead: minus bare `true` (× `python3 -c pass`)"
    base = ctx.baselines
    for key, samples in walls.items():
        summary = Summary.of(samples)
        if summary is None:
            total.cells[key] = over.cells[key] = Cell.error(errors.get(key, "no samples"))
            continue
        total.cells[key] = Cell.time(summary, base, to="true")
        over.cells[key] = Cell.time(summary.shifted(-base.true.median), base)
    judge(
        over,
        ctx,
        f"≤ {TARGET_RATIO}× py",
        lambda v: v <= TARGET_RATIO * base.python.median,
    )
    total.baseline = "true " + Cell.time(base.true, None).text
    over.baseline = "py " + Cell.time(base.python, None).text
    result.rows = [total, over]
    result.raw = {"walls_s": walls, "errors": errors}
    return result
