"""Figure 4: what queued waiters cost (memory, processes, CPU while they wait)."""

from __future__ import annotations

from bench.figures.common import judge, scene_error, scenes
from bench.model import Cell, Context, FigureResult, Row
from bench.scenes import idle_python_pss
from bench.stats import Summary

MB = 1024 * 1024
PSS_TARGET = 5 * MB
CPU_TARGET_PERCENT = 1.0


def _summary(values: list[int]) -> Summary:
    """Summary of a non-empty list."""
    found = Summary.of(values)
    assert found is not None
    return found


def run(ctx: Context) -> FigureResult:
    """For each waiter count: per-waiter PSS/RSS/processes and all waiters' CPU."""
    result = FigureResult("waiters")
    window = ctx.settings.cpu_window
    for n in ctx.settings.waiter_counts:
        fig = f"4 waiters, {n} queued"
        rows = {
            "pss": Row(fig, "PSS per waiter (whole waiter process tree)", {}),
            "rss": Row(fig, "RSS per waiter", {}),
            "procs": Row(fig, "processes per waiter", {}),
            "cpu": Row(fig, f"CPU of all waiters over {window:g} s (% of one core)", {}),
            "daemon": Row(fig, "shared daemon: PSS, CPU (% of one core)", {}),
        }
        for runner in ctx.queue_runners():
            results = scenes(ctx, runner, n)
            result.raw.setdefault(str(n), {})[runner.key] = [r.to_json() for r in results]
            fp = results[0].footprint
            if fp is None or not fp.pss:
                error = Cell.error(scene_error(results) or "no waiters seen")
                for row in rows.values():
                    row.cells[runner.key] = error
                continue
            rows["pss"].cells[runner.key] = Cell.number(_summary(fp.pss), "MB", MB)
            rows["rss"].cells[runner.key] = Cell.number(_summary(fp.rss), "MB", MB)
            rows["procs"].cells[runner.key] = Cell.number(_summary(fp.processes))
            rows["cpu"].cells[runner.key] = Cell.scalar(fp.cpu_percent, "%")
            rows["daemon"].cells[runner.key] = (
                Cell.scalar(
                    fp.daemon_pss,
                    text=f"{fp.daemon_pss / MB:.2f} MB, "
                    f"{100 * fp.daemon_cpu_seconds / fp.window:.2f} %",
                )
                if fp.daemon_rss
                else Cell.na("none")
            )
            if not results[0].settled:
                result.notes.append(f"{runner.key}, {n} waiters: still using CPU when weighed")
        idle = Summary.of(idle_python_pss(n))
        if idle:
            rows["pss"].baseline = "idle python3: " + Cell.number(idle, "MB", MB).text
        judge(rows["pss"], ctx, "≤ 5 MB", lambda v: v <= PSS_TARGET)
        if n == 50:
            judge(rows["cpu"], ctx, "< 1 % of a core", lambda v: v < CPU_TARGET_PERCENT)
        result.rows.extend(rows.values())
    result.notes.append(
        "waiters: memory from /proc/PID/smaps_rollup summed over each waiter's process tree; "
        "CPU = utime+stime ticks of those processes over the window (tick = 10 ms)"
    )
    return result
