"""Figure 8: what a run pays for history and logs (``cgseq run`` vs ``cgseq run --no-record``)."""

from __future__ import annotations

from bench.model import Cell, Context, FigureResult, Row
from bench.runners import BenchError
from bench.stats import Summary
from bench.workspace import Workspace


def run(ctx: Context) -> FigureResult:
    """Interleave ``true`` with and without ``--no-record`` for every cgseq variant."""
    result = FigureResult("recording")
    with_rec = Row("8 recording", "`RUNNER true` with history and logs (× true)", {})
    without = Row("8 recording", "… with `--no-record` (× true)", {})
    cost = Row("8 recording", "cost of recording (difference of medians)", {})
    for runner in ctx.cgseq:
        walls: dict[str, list[float]] = {"record": [], "no-record": []}
        with Workspace(f"recording-{runner.key}") as ws:
            slot = runner.open(ws, "recording")
            try:
                for i in range(ctx.settings.repeats + 1):
                    for name, options in (("record", []), ("no-record", ["--no-record"])):
                        done = slot.run(["true"], options=options, timeout=60)
                        if done.returncode != 0:
                            raise BenchError(f"exit {done.returncode}: {done.stderr_tail()}")
                        if i:
                            walls[name].append(done.wall)
            except BenchError as exc:
                for row in (with_rec, without, cost):
                    row.cells[runner.key] = Cell.error(str(exc))
                continue
        result.raw[runner.key] = walls
        rec, norec = Summary.of(walls["record"]), Summary.of(walls["no-record"])
        assert rec is not None and norec is not None
        with_rec.cells[runner.key] = Cell.time(rec, ctx.baselines, to="true")
        without.cells[runner.key] = Cell.time(norec, ctx.baselines, to="true")
        delta = rec.median - norec.median
        cost.cells[runner.key] = Cell.scalar(delta, text=f"{delta * 1e3:+.2f} ms")
    for row in (with_rec, without, cost):
        row.cells.update({p.key: Cell.na() for p in ctx.peers})
    result.rows = [with_rec, without, cost]
    return result
