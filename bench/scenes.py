"""Queue scenes: a holder plus N waiters; what waiting costs and how fast the hand-off is.

A scene per (runner, N) is built once and serves the hand-off, waiters and scaling figures:

1. the *holder* starts, logs ``s 0 <ns>`` and blocks reading a FIFO (the gate);
2. waiter 1 is submitted and allowed to block, then waiters 2..N;
3. with the queue settled, the waiters' processes are weighed (RSS/PSS/count) and their CPU
   is counted over a fixed window; then ``RUNNER true`` is timed on *another* slot;
4. the gate opens: the holder logs ``e 0 <ns>`` and exits; each waiter's job logs its start and
   end the same way (``date +%s%N``, appended with O_APPEND); the first few drain, then the
   rest are stopped. A hand-off is the gap from one job's end to the next job's start.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procfs
from bench.model import Settings
from bench.processes import open_gate, settle, spawn, stop_all, wait_for
from bench.runners import BenchError, Job, PopenJob, Runner, Slot
from bench.workspace import PYTHON, Workspace

HOLDER_MAX_SECONDS = 120  # the holder ends by itself even if the bench dies
START_TIMEOUT = 30.0


def holder_cmd(log: Path, gate: Path) -> list[str]:
    """Logs its start, blocks on the gate FIFO, logs its end just before exiting."""
    script = 'echo s 0 $(date +%s%N) >> "$0"; read x < "$1"; echo e 0 $(date +%s%N) >> "$0"'
    return ["timeout", str(HOLDER_MAX_SECONDS), "sh", "-c", script, str(log), str(gate)]


def stamper_cmd(log: Path, index: int) -> list[str]:
    """A job that does nothing but log its start and its end."""
    script = f'echo s {index} $(date +%s%N) >> "$0"; echo e {index} $(date +%s%N) >> "$0"'
    return ["sh", "-c", script, str(log)]


def read_events(log: Path) -> dict[str, dict[int, int]]:
    """``{"s": {index: ns}, "e": {index: ns}}`` from an event log (missing file: empty)."""
    events: dict[str, dict[int, int]] = {"s": {}, "e": {}}
    try:
        lines = log.read_text().splitlines()
    except FileNotFoundError:
        return events
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[0] in events:
            events[parts[0]][int(parts[1])] = int(parts[2])
    return events


def handoffs(events: dict[str, dict[int, int]], limit: int) -> list[float]:
    """Seconds from each job's end to the next job's start, in start order, first ``limit``."""
    order = sorted(events["s"], key=lambda i: events["s"][i])
    gaps = []
    for prev, nxt in itertools.pairwise(order):
        if prev in events["e"]:
            gaps.append((events["s"][nxt] - events["e"][prev]) / 1e9)
    return gaps[:limit]


@dataclass
class Footprint:
    """What queued waiters cost: per-waiter memory and process count, CPU over a window."""

    rss: list[int]
    pss: list[int]
    processes: list[int]
    cpu_seconds: float
    window: float
    daemon_rss: int = 0
    daemon_pss: int = 0
    daemon_cpu_seconds: float = 0.0

    @property
    def cpu_percent(self) -> float:
        """All waiters' CPU as a percentage of one core over the window."""
        return 100.0 * self.cpu_seconds / self.window

    def to_json(self) -> dict[str, Any]:
        """Plain data for the report."""
        return {
            "rss": self.rss,
            "pss": self.pss,
            "processes": self.processes,
            "cpu_seconds": self.cpu_seconds,
            "window": self.window,
            "cpu_percent_of_core": self.cpu_percent,
            "daemon": {
                "rss": self.daemon_rss,
                "pss": self.daemon_pss,
                "cpu_seconds": self.daemon_cpu_seconds,
            },
        }


@dataclass
class SceneResult:
    """The outcome of one scene."""

    runner: str
    waiters: int
    handoffs: list[float] = field(default_factory=list)
    footprint: Footprint | None = None
    probe: list[float] = field(default_factory=list)
    settled: bool = True
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data for the report."""
        return {
            "runner": self.runner,
            "waiters": self.waiters,
            "handoffs_s": self.handoffs,
            "footprint": self.footprint.to_json() if self.footprint else None,
            "probe_overhead_walls_s": self.probe,
            "settled": self.settled,
            "error": self.error,
        }


def _job_trees(jobs: list[Job]) -> list[list[int]]:
    """Each job's processes (its top pids and all their descendants), from one /proc scan."""
    children = procfs.children_map()
    trees = []
    for job in jobs:
        pids: list[int] = []
        for top in job.pids():
            pids.extend(procfs.tree(top, children))
        trees.append(pids)
    return trees


def measure_footprint(waiters: list[Job], daemons: list[int], window: float) -> Footprint:
    """Weigh the waiters' process trees, then count their CPU over ``window`` seconds."""
    trees = _job_trees(waiters)
    mems = [procfs.tree_memory(t) for t in trees]
    flat = [pid for t in trees for pid in t]
    daemon_mem = procfs.tree_memory(daemons)
    before, daemon_before = procfs.cpu_ticks(flat), procfs.cpu_ticks(daemons)
    time.sleep(window)
    after, daemon_after = procfs.cpu_ticks(flat), procfs.cpu_ticks(daemons)
    return Footprint(
        rss=[m.rss for m in mems],
        pss=[m.pss for m in mems],
        processes=[len(t) for t in trees],
        cpu_seconds=procfs.ticks_to_seconds(max(0, after - before)),
        window=window,
        daemon_rss=daemon_mem.rss,
        daemon_pss=daemon_mem.pss,
        daemon_cpu_seconds=procfs.ticks_to_seconds(max(0, daemon_after - daemon_before)),
    )


def probe_overhead(runner: Runner, workspace: Workspace, repeats: int) -> list[float]:
    """Wall times of ``RUNNER true`` on a different slot (after one warm-up run)."""
    slot = runner.open(workspace, "probe")
    try:
        walls = []
        for i in range(repeats + 1):
            done = slot.run(["true"], timeout=60)
            if done.returncode != 0:
                raise BenchError(f"probe `true` exited {done.returncode}: {done.stderr_tail()}")
            if i:
                walls.append(done.wall)
        return walls
    finally:
        slot.close()


class Scene:
    """Builds and tears down one queue; see the module docstring."""

    def __init__(self, runner: Runner, waiters: int, settings: Settings, ws: Workspace) -> None:
        """A scene of ``waiters`` queued behind a holder, in workspace ``ws``."""
        self.runner = runner
        self.n = waiters
        self.settings = settings
        self.ws = ws
        self.log = ws.path("events.log")
        self.gate = ws.path("gate.fifo")
        os.mkfifo(self.gate)
        self.slot: Slot = runner.open(ws, "queue")
        self.jobs: list[Job] = []
        self.gate_open = False
        self.holder_err = ws.path("holder.err")

    def _submit(self, cmd: list[str]) -> Job:
        """Submit a queued job (stderr kept for diagnostics) and keep its handle for teardown."""
        with self.ws.path(f"waiter-{len(self.jobs)}.err").open("wb") as err:
            job = self.slot.submit(cmd, stderr=err)
        self.jobs.append(job)
        return job

    def stderr_tail(self, index: int) -> str:
        """The end of what job ``index`` (0: holder) wrote on stderr."""
        path = self.holder_err if index == 0 else self.ws.path(f"waiter-{index}.err")
        try:
            return path.read_text(errors="replace").strip()[-300:]
        except FileNotFoundError:
            return ""

    def start_queue(self) -> bool:
        """Holder in, waiter 1 queued and blocked, then the others; True if all settled."""
        with self.holder_err.open("wb") as err:
            self.jobs.append(self.slot.submit(holder_cmd(self.log, self.gate), stderr=err))
        if not wait_for(lambda: 0 in read_events(self.log)["s"], START_TIMEOUT):
            raise BenchError(f"holder did not start: {self.holder_err.read_text()[-300:]}")
        first = self._submit(stamper_cmd(self.log, 1))
        # Waiter 1 must be first in line: let it reach its blocking point before the others.
        time.sleep(0.1)
        settle(lambda: _flat(_job_trees([first])), quiet=0.1, timeout=1.0)
        for index in range(2, self.n + 1):
            self._submit(stamper_cmd(self.log, index))
        waiting = self.jobs[1:]
        return settle(lambda: _flat(_job_trees(waiting)), quiet=0.3, timeout=1.5 + 0.03 * self.n)

    def release_and_drain(self) -> list[float]:
        """Open the gate, let the first jobs run, return the hand-offs seen."""
        self.gate_open = open_gate(self.gate)
        if not self.gate_open:
            raise BenchError("holder never opened the gate FIFO")
        drained = min(self.n, self.settings.drain)
        if not wait_for(lambda: len(read_events(self.log)["e"]) > drained, START_TIMEOUT):
            events = read_events(self.log)
            got = len(events["e"]) - 1
            codes = [job.poll() for job in self.jobs[: drained + 1]]
            raise BenchError(
                f"only {got} of {drained} queued jobs ran within {START_TIMEOUT}s; "
                f"events {sorted(events['s'])}/{sorted(events['e'])}; exit codes {codes}; "
                f"holder stderr: {self.stderr_tail(0)!r}; waiter 1 stderr: {self.stderr_tail(1)!r}"
            )
        return handoffs(read_events(self.log), drained)

    def teardown(self) -> None:
        """Free the holder, stop every job still there, close the slot."""
        if not self.gate_open:
            self.gate_open = open_gate(self.gate, timeout=0.5)
        popens = [job.popen for job in self.jobs if isinstance(job, PopenJob)]
        stop_all(popens)
        for job in self.jobs:
            if not isinstance(job, PopenJob):
                job.stop()
        self.slot.close()


def _flat(trees: list[list[int]]) -> list[int]:
    """All pids of several trees."""
    return [pid for t in trees for pid in t]


def run_scene(
    runner: Runner, waiters: int, settings: Settings, *, weigh: bool, probe: bool
) -> SceneResult:
    """One scene: hand-offs always; footprint if ``weigh``; overhead probe if ``probe``."""
    result = SceneResult(runner.key, waiters)
    with Workspace(f"scene-{runner.key}-{waiters}") as ws:
        scene = Scene(runner, waiters, settings, ws)
        try:
            result.settled = scene.start_queue()
            if weigh:
                result.footprint = measure_footprint(
                    scene.jobs[1:], scene.slot.daemon_pids(), settings.cpu_window
                )
            if probe:
                result.probe = probe_overhead(runner, ws, settings.probe_repeats)
            result.handoffs = scene.release_and_drain()
        except (BenchError, OSError, subprocess.SubprocessError) as exc:
            result.error = str(exc)
        finally:
            scene.teardown()
    return result


def bare_handoff_floor(repeats: int) -> list[float]:
    """The floor of any hand-off: the bench waits for a holder to exit, then spawns the next job."""
    gaps = []
    with Workspace("floor") as ws:
        env = ws.env()
        for _ in range(repeats):
            log = ws.fresh("events", ".log")
            first = spawn(stamper_cmd(log, 0), env=env, cwd=ws.root)
            first.wait(30)
            spawn(stamper_cmd(log, 1), env=env, cwd=ws.root).wait(30)
            gaps.extend(handoffs(read_events(log), 1))
    return gaps


def idle_python_pss(count: int) -> list[int]:
    """PSS of ``count`` bare Python processes asleep together: the floor of a Python waiter."""
    with Workspace("idle-python") as ws:
        cmd = [PYTHON, "-c", "import time; time.sleep(60)"]
        popens = [spawn(cmd, env=ws.env(), cwd=ws.root) for _ in range(count)]
        try:
            settle(lambda: [p.pid for p in popens], quiet=0.3, timeout=10.0)
            return [m.pss for p in popens if (m := procfs.memory(p.pid)) is not None]
        finally:
            stop_all(popens)
