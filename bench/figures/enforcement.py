"""Figure 7: a memory hog under ``--memory 300M`` and a fork loop under ``--pids 50``, per backend.

The hog allocates 50 MB every 100 ms and logs ``pre``/``post`` lines (time, own RSS) around each
allocation. The bench watches the hog's pid every 2 ms to time its death. The moment of crossing
the limit is interpolated inside the allocation that crossed it (for a step that never finished,
at the hog's measured allocation speed).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import jobs, procfs
from bench.figures.common import judge
from bench.model import Cell, Context, FigureResult, Row
from bench.processes import stop, wait_for
from bench.runners import BenchError, PopenJob, Runner
from bench.stats import Summary
from bench.workspace import Workspace

MB = 1024 * 1024
LIMIT = "300M"
LIMIT_BYTES = 300 * MB
STEP = 50 * MB
INTERVAL = 0.1
HOG_CAP = 1200 * MB  # the hog stops growing by itself here
PIDS = 50
FORK_CAP = 100  # the fork loop stops by itself here
WATCH = 0.002


def parse_hog(log: Path) -> tuple[int | None, list[tuple[str, int, int]]]:
    """The hog's pid and its (kind, ns, rss) lines."""
    pid, steps = None, []
    for line in log.read_text().splitlines() if log.exists() else []:
        parts = line.split()
        if parts[0] == "pid":
            pid = int(parts[1])
        elif parts[0] in ("pre", "post") and len(parts) == 3:
            steps.append((parts[0], int(parts[1]), int(parts[2])))
    return pid, steps


def crossing_ns(steps: list[tuple[str, int, int]], limit: int) -> tuple[int | None, str]:
    """When the hog passed ``limit``, and how that moment was found.

    A step that completed above the limit (poll backend): interpolated inside that step.
    A step that never completed (a kernel limit kills inside the allocation, where the group's
    charge, not the hog's RSS, hit the limit): the start of that allocation, an upper bound.
    """
    last_pre: tuple[int, int] | None = None
    for kind, ns, rss in steps:
        if kind == "pre":
            last_pre = (ns, rss)
        elif last_pre is not None and rss > limit:
            t0, r0 = last_pre
            fraction = (limit - r0) / (rss - r0) if rss > r0 else 0.0
            return t0 + int(max(0.0, fraction) * (ns - t0)), "interpolated"
        else:
            last_pre = None
    if last_pre is not None:
        return last_pre[0], "start of the fatal allocation"
    return None, "never crossed"


def _json_result(stdout: bytes) -> dict[str, Any]:
    """cgseq's --json result: the last JSON object on stdout."""
    text = stdout.decode(errors="replace")
    start = text.rfind("\n{")
    try:
        found: dict[str, Any] = json.loads(text[start + 1 if start >= 0 else 0 :])
    except json.JSONDecodeError:
        return {}
    return found


def hog_once(runner: Runner, backend: str) -> dict[str, Any]:
    """One hog run under ``--memory 300M``: peaks, crossing, death, cgseq's verdict."""
    with Workspace(f"hog-{backend}") as ws:
        slot = runner.open(ws, "hog")
        log = ws.path("hog.log")
        argv = [*jobs.write(ws, "hog"), str(log), str(STEP), str(INTERVAL), str(HOG_CAP)]
        options = ["--backend", backend, "--memory", LIMIT, "--timeout", "15s", "--json"]
        job = slot.submit(argv, options=options, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert isinstance(job, PopenJob)
        try:
            if not wait_for(lambda: parse_hog(log)[0] is not None, 30):
                raise BenchError("the hog never started")
            hog_pid = parse_hog(log)[0] or 0
            wait_for(lambda: procfs.is_dead(hog_pid), 20, interval=WATCH)
            death = time.time_ns()
            out, err = job.popen.communicate(timeout=20)
        finally:
            stop(job.popen)
        _, steps = parse_hog(log)
    report = _json_result(out)
    cross, how = crossing_ns(steps, LIMIT_BYTES)
    return {
        "exit_code": job.popen.returncode,
        "reason": report.get("reason"),
        "peak_memory_cgseq": report.get("peak_memory"),
        "peak_rss_hog": max((rss for kind, _, rss in steps if kind == "post"), default=None),
        "crossing_to_death_s": (death - cross) / 1e9 if cross else None,
        "crossing": how,
        "steps_logged": len(steps),
        "stderr": err.decode(errors="replace").strip()[-300:],
    }


def forkloop_once(runner: Runner, backend: str) -> dict[str, Any]:
    """One fork loop under ``--pids 50``: how many processes it reached, cgseq's verdict."""
    with Workspace(f"forkloop-{backend}") as ws:
        slot = runner.open(ws, "forkloop")
        log = ws.path("fork.log")
        argv = [*jobs.write(ws, "forkloop"), str(log), str(FORK_CAP)]
        # The loop ends by itself in ~1.5 s; the timeouts only bound a supervisor that hangs.
        options = ["--backend", backend, "--pids", str(PIDS), "--timeout", "10s", "--json"]
        done = slot.run(argv, options=options, timeout=20, capture=True)
        lines = log.read_text().split() if log.exists() else []
    forked = max((int(w) for w in lines if w.isdigit()), default=0)
    report = _json_result(done.stdout)
    return {
        "exit_code": done.returncode,
        "reason": report.get("reason"),
        "peak_pids_cgseq": report.get("peak_pids"),
        "processes_reached": forked + 1,
        "fork_failed": "fail" in lines,
        "stderr": done.stderr.decode(errors="replace").strip()[-300:],
    }


def _median(runs: list[dict[str, Any]], key: str) -> Summary | None:
    """Summary of one numeric field over runs (missing values skipped)."""
    return Summary.of([r[key] for r in runs if isinstance(r.get(key), int | float)])


def _rows_for(
    backend: str, ctx: Context, hogs: list[dict[str, Any]], forks: list[dict[str, Any]]
) -> list[Row]:
    """The table rows of one backend."""
    main = ctx.main_cgseq
    assert main is not None
    fig = f"7 enforcement, {backend}"
    kernel = backend != "poll"
    rows = []
    hung = _failures(hogs) + _failures(forks)
    peak = _median(hogs, "peak_memory_cgseq")
    own = _median(hogs, "peak_rss_hog")
    death = _median(hogs, "crossing_to_death_s")
    reasons = sorted({str(h.get("reason")) for h in hogs})
    row = Row(fig, f"hog: peak (cgseq) vs limit {LIMIT}; reason", {})
    row.cells[main.key] = (
        Cell(
            f"{peak.median / MB:.0f} MB ({(peak.median - LIMIT_BYTES) / MB:+.0f}); "
            + ", ".join(reasons),
            peak.median - LIMIT_BYTES,
        )
        if peak
        else Cell.error(hogs[0].get("stderr", "no result") if hogs else "no run")
    )
    target = "peak ≤ limit" if kernel else "overshoot ≤ 50 MB"
    judge(row, ctx, target, (lambda v: v <= 0) if kernel else (lambda v: v <= STEP))
    rows.append(row)
    row = Row(fig, "hog: own peak RSS (from its log)", {})
    row.cells[main.key] = Cell.number(own, "MB", MB) if own else Cell.na("–")
    rows.append(row)
    row = Row(fig, "hog: crossing the limit → death", {})
    row.cells[main.key] = Cell.time(death, None) if death else Cell.na("not killed")
    if not kernel:
        judge(row, ctx, "≤ 200 ms (2 intervals)", lambda v: v <= 2 * INTERVAL)
    rows.append(row)
    reached = _median(forks, "processes_reached")
    reasons = sorted({str(f.get("reason")) for f in forks})
    row = Row(fig, f"fork loop under --pids {PIDS}: processes reached; reason", {})
    row.cells[main.key] = (
        Cell(f"{reached.median:.0f} ({', '.join(reasons)})", reached.median)
        if reached
        else Cell.error("no result")
    )
    judge(row, ctx, f"≤ {PIDS}" if kernel else "", (lambda v: v <= PIDS))
    rows.append(row)
    if hung:
        rows[-1].cells[main.key].text += f"; {hung}"
    for r in rows:
        r.cells.update({p.key: Cell.na() for p in ctx.peers})
    return rows


def _failures(runs: list[dict[str, Any]]) -> str:
    """``"2/3 runs failed: ..."`` for runs that produced no result, else ''."""
    failed = [r["error"] for r in runs if "error" in r]
    if not failed:
        return ""
    return f"{len(failed)}/{len(runs)} runs failed: {failed[0]}"


def run(ctx: Context) -> FigureResult:
    """Hog and fork loop, ``enforce_repeats`` times per available backend."""
    result = FigureResult("enforcement")
    main = ctx.main_cgseq
    if main is None:
        return result
    for backend in ctx.backends:
        hogs: list[dict[str, Any]] = []
        forks: list[dict[str, Any]] = []
        for _ in range(ctx.settings.enforce_repeats):
            for fn, sink in ((hog_once, hogs), (forkloop_once, forks)):
                try:
                    sink.append(fn(main, backend))
                except (BenchError, OSError, subprocess.SubprocessError) as exc:
                    sink.append({"error": str(exc)})
        result.raw[backend] = {"hog": hogs, "forkloop": forks}
        result.rows.extend(_rows_for(backend, ctx, hogs, forks))
    result.notes.append(
        "enforcement: hog = 50 MB touched every 100 ms; death = the bench seeing its pid gone or "
        "a zombie (polled every 2 ms); crossing = interpolated from the hog's own RSS log when "
        "an allocation completed above the limit (poll), else the start of the allocation the "
        "kernel killed it in (kernel backends: an upper bound that includes that allocation)"
    )
    return result
