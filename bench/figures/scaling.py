"""Figure 5: hand-off and overhead with 1, 10 and 100 waiters queued (should stay flat)."""

from __future__ import annotations

from functools import partial

from bench.figures.common import judge, scene_error, scenes
from bench.model import Cell, Context, FigureResult, Row
from bench.stats import Summary

FLAT_FACTOR = 1.5
FLAT_SLACK = 0.002  # seconds: jitter below this is not a trend


def _flat(value: float, first: float | None) -> bool:
    """``value`` is within 1.5× (or 2 ms) of the value with one waiter."""
    return first is not None and value <= max(FLAT_FACTOR * first, first + FLAT_SLACK)


def _fast_and_flat(value: float, first: float | None) -> bool:
    """A hand-off within the 10 ms target and flat."""
    return first is not None and value <= 0.010 and value <= FLAT_FACTOR * first


def run(ctx: Context) -> FigureResult:
    """For each depth: the hand-offs of the first jobs drained, and ``true`` on another slot."""
    result = FigureResult("scaling")
    base = ctx.baselines
    firsts: dict[str, dict[str, float | None]] = {"handoff": {}, "overhead": {}}
    for n in ctx.settings.depths:
        fig = f"5 scaling, {n} queued"
        handoff = Row(fig, "hand-off (× py)", {})
        overhead = Row(fig, "overhead of `RUNNER true` on another slot (× py)", {})
        for runner in ctx.queue_runners():
            results = scenes(ctx, runner, n)
            result.raw.setdefault(str(n), {})[runner.key] = [r.to_json() for r in results]
            error = Cell.error(scene_error(results) or "no samples")
            gaps = Summary.of([g for r in results for g in r.handoffs])
            probes = Summary.of([p for r in results for p in r.probe])
            handoff.cells[runner.key] = Cell.time(gaps, base) if gaps else error
            overhead.cells[runner.key] = (
                Cell.time(probes.shifted(-base.true.median), base) if probes else error
            )
            for name, summary, shift in (
                ("handoff", gaps, 0.0),
                ("overhead", probes, base.true.median),
            ):
                if n == ctx.settings.depths[0] and summary:
                    firsts[name][runner.key] = summary.median - shift
        if n == max(ctx.settings.depths) and n > ctx.settings.depths[0]:
            key = ctx.main_cgseq.key if ctx.main_cgseq else ""
            first_h, first_o = firsts["handoff"].get(key), firsts["overhead"].get(key)
            judge(
                handoff,
                ctx,
                "median ≤ 10 ms and ≤ 1.5× the 1-waiter figure",
                partial(_fast_and_flat, first=first_h),
            )
            judge(overhead, ctx, "flat", partial(_flat, first=first_o))
        result.rows += [handoff, overhead]
    result.notes.append(
        "scaling: hand-offs are the gaps between the first jobs that drain after the holder; "
        "overhead is `RUNNER true` on a second slot of the same tool while the queue waits; "
        f"flat = within {FLAT_FACTOR}× (or +{FLAT_SLACK * 1e3:.0f} ms) of the 1-waiter value"
    )
    return result
