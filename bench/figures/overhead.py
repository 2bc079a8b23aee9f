"""Figure 1: the cost of one ``RUNNER true`` over bare ``true``."""

from __future__ import annotations

from bench.baselines import PYTHON_PASS
from bench.figures.common import judge
from bench.model import Baselines, Cell, Context, FigureResult, Row
from bench.runners import Bare, BenchError, Slot
from bench.stats import Summary
from bench.workspace import PYTHON, Workspace

TARGET_RATIO = 2.5
FLOOR_TARGET_SECONDS = 0.015  # issue 12: at most 15 ms over `python3 -c "import fasteners"`
BASE_TRUE, BASE_PYTHON, BASE_FASTENERS = "_true", "_python", "_fasteners"
PYTHON_FASTENERS = [PYTHON, "-c", "import fasteners"]


def run(ctx: Context) -> FigureResult:
    """Time ``RUNNER true`` for every runner and both baselines, interleaved round by round."""
    result = FigureResult("overhead")
    runners = ctx.all_runners()
    walls: dict[str, list[float]] = {r.key: [] for r in runners}
    walls.update({BASE_TRUE: [], BASE_PYTHON: [], BASE_FASTENERS: []})
    errors: dict[str, str] = {}
    with Workspace("overhead") as ws:
        slots: dict[str, tuple[Slot, list[str]]] = {
            r.key: (r.open(ws, "overhead"), ["true"]) for r in runners
        }
        bare = Bare("true").open(ws)
        slots[BASE_TRUE], slots[BASE_PYTHON] = (bare, ["true"]), (bare, PYTHON_PASS)
        slots[BASE_FASTENERS] = (bare, PYTHON_FASTENERS)
        try:
            for i in range(ctx.settings.repeats + 1):
                for key, (slot, cmd) in slots.items():
                    if key in errors:
                        continue
                    try:
                        done = slot.run(cmd, timeout=60)
                    except BenchError as exc:
                        errors[key] = str(exc)
                        continue
                    if done.returncode != 0:
                        errors[key] = f"exit {done.returncode}: {done.stderr_tail()}"
                    elif i:
                        walls[key].append(done.wall)
        finally:
            for slot, _ in slots.values():
                slot.close()
    # Baselines interleaved with the runners are the fairest floor: use them from here on.
    true, python = Summary.of(walls.pop(BASE_TRUE)), Summary.of(walls.pop(BASE_PYTHON))
    fasteners = Summary.of(walls.pop(BASE_FASTENERS))
    if true and python:
        ctx.baselines = Baselines(true, python)
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
    if fasteners is not None:
        result.rows.append(_over_floor(ctx, walls, errors, fasteners))
    else:
        result.notes.append(f"floor `import fasteners` not measured: {errors.get(BASE_FASTENERS)}")
    result.raw = {"walls_s": walls, "errors": errors}
    return result


def _over_floor(
    ctx: Context, walls: dict[str, list[float]], errors: dict[str, str], floor: Summary
) -> Row:
    """Each runner's wall minus the median of ``python3 -c "import fasteners"`` (same rounds)."""
    row = Row("1 overhead", 'over the floor `python3 -c "import fasteners"`', {})
    for key, samples in walls.items():
        summary = Summary.of(samples)
        row.cells[key] = (
            Cell.time(summary.shifted(-floor.median), None)
            if summary
            else Cell.error(errors.get(key, "no samples"))
        )
    row.baseline = "import fasteners " + Cell.time(floor, None).text
    return judge(
        row,
        ctx,
        f"≤ {FLOOR_TARGET_SECONDS * 1e3:.0f} ms over import fasteners",
        lambda v: v <= FLOOR_TARGET_SECONDS,
    )
