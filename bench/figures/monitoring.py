"""Figure 6: CPU of the cgseq supervisor while its job is a tree of many sleeping processes.

The peers have no supervisor that samples the job; their own process's CPU while the job runs
is shown for the middle size for reference.
"""

from __future__ import annotations

import os
import time

from bench import jobs, procfs
from bench.figures.common import judge
from bench.model import Cell, Context, FigureResult, Row
from bench.processes import open_gate, stop, wait_for
from bench.runners import BenchError, Job, PopenJob, Runner, Slot
from bench.workspace import Workspace

TARGET_PERCENT = 2.0
SETTLE = 0.5


def _measure(slot: Slot, ws: Workspace, size: int, window: float, options: list[str]) -> float:
    """Start the tree under ``slot``, count the tool's own CPU over ``window``; % of a core."""
    ready, gate = ws.fresh("ready"), ws.fresh("gate")
    os.mkfifo(gate)
    argv = [*jobs.write(ws, "tree"), str(size), str(ready), str(gate)]
    err = ws.fresh("err").open("wb")
    job: Job = slot.submit(argv, options=options, stderr=err)
    try:
        if not wait_for(ready.exists, 60, interval=0.02):
            raise BenchError(f"the {size}-process tree never got ready (exit {job.poll()})")
        time.sleep(SETTLE)
        tools = job.pids() + slot.daemon_pids()
        before = procfs.cpu_ticks(tools)
        time.sleep(window)
        used = procfs.ticks_to_seconds(procfs.cpu_ticks(tools) - before)
        open_gate(gate)
        code = job.wait(60)
        if code != 0:
            raise BenchError(f"exit {code}")
        return 100.0 * used / window
    finally:
        open_gate(gate, timeout=0.2)
        if isinstance(job, PopenJob):
            stop(job.popen)
        err.close()


def _cell(runner: Runner, size: int, window: float, options: list[str]) -> Cell:
    """One measurement as a table cell (errors become error cells)."""
    with Workspace(f"monitor-{runner.key}-{size}") as ws:
        slot = runner.open(ws, "monitor")
        try:
            percent = _measure(slot, ws, size, window, options)
        except (BenchError, OSError) as exc:
            return Cell.error(str(exc))
        finally:
            slot.close()
    return Cell.scalar(percent, "%")


def run(ctx: Context) -> FigureResult:
    """Per backend and tree size: supervisor CPU in % of one core over the CPU window."""
    result = FigureResult("monitoring")
    main = ctx.main_cgseq
    window = ctx.settings.cpu_window
    sizes = ctx.settings.monitor_sizes
    middle = sizes[len(sizes) // 2]
    for backend in ctx.backends:
        for size in sizes:
            row = Row(f"6 monitoring, {backend}", f"supervisor CPU, {size} processes", {})
            if main:
                row.cells[main.key] = _cell(main, size, window, ["--backend", backend])
            for peer in ctx.peers:
                row.cells[peer.key] = (
                    _cell(peer, size, window, [])
                    if size == middle and backend == ctx.backends[0]
                    else Cell.na()
                )
            if backend == "poll" and size == 100:
                judge(row, ctx, "< 2 % of a core", lambda v: v < TARGET_PERCENT)
            result.rows.append(row)
    result.notes.append(
        f"monitoring: own CPU (utime+stime, not children) of the tool's process over "
        f"{window:g} s while the job's tree sleeps; peers measured once ({middle} processes): "
        "flock/sem/tsp client only wait for the job; tsp adds its server; nq execs the job "
        "in its own process and has no supervisor of its own (its monitor process is counted)"
    )
    return result
