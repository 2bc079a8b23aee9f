"""Helpers shared by figures: the scene cache and target bookkeeping."""

from __future__ import annotations

from collections.abc import Callable

from bench.model import Cell, Context, Row
from bench.runners import Runner
from bench.scenes import SceneResult, run_scene


def scenes(ctx: Context, runner: Runner, waiters: int) -> list[SceneResult]:
    """The scenes of ``runner`` with ``waiters`` queued, built once per run and shared.

    One waiter: ``handoff_repeats`` scenes (the overhead probe in the first only).
    More waiters: one scene that is also weighed and probed.
    """
    key = (runner.key, waiters)
    if key not in ctx.scenes:
        settings = ctx.settings
        repeats = settings.handoff_repeats if waiters == 1 else 1
        ctx.scenes[key] = [
            run_scene(runner, waiters, settings, weigh=waiters > 1, probe=i == 0)
            for i in range(repeats)
        ]
    found: list[SceneResult] = ctx.scenes[key]
    return found


def scene_error(results: list[SceneResult]) -> str | None:
    """The first error of a list of scenes, if any."""
    return next((r.error for r in results if r.error), None)


def judge(row: Row, ctx: Context, target: str, ok: Callable[[float], bool]) -> Row:
    """Set the row's target and whether the main cgseq's value meets it."""
    row.target = target
    main = ctx.main_cgseq
    cell = row.cells.get(main.key) if main else None
    row.met = None if cell is None or cell.value is None else ok(cell.value)
    return row


def na_cells(ctx: Context, runners: list[Runner], text: str = "n/a") -> dict[str, Cell]:
    """n/a cells for ``runners`` (peers where a metric does not apply)."""
    return {r.key: Cell.na(text) for r in runners}
