"""``cgseq watch PID``: a growing process started outside cgseq, followed and never signalled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import REPO, Running, pid_running, start_cgseq, start_process, wait_until

from cgseq.memwatch import largest

pytestmark = pytest.mark.timeout(120)
GROWER = REPO / "tests" / "helpers" / "grower.py"
STEP = 20 << 20


class Grower:
    """The grower process and its files: ``grow()`` adds one step and waits until it did."""

    def __init__(self, work: Path) -> None:
        self.fifo, self.ready, self.signals = work / "fifo", work / "ready", work / "signals"
        os.mkfifo(self.fifo)
        self.run = start_process([sys.executable, GROWER, self.fifo, self.ready, self.signals])
        wait_until(lambda: self.lines(), 60, "the grower to start")
        self.pid, self.child = map(int, self.lines()[0].split())
        self.steps = 0

    def lines(self) -> list[str]:
        return self.ready.read_text().splitlines() if self.ready.exists() else []

    def send(self, command: bytes) -> None:
        fd = os.open(self.fifo, os.O_WRONLY)
        try:
            os.write(fd, command)
        finally:
            os.close(fd)

    def grow(self) -> None:
        self.steps += 1
        self.send(b"g")
        wait_until(lambda: len(self.lines()) > self.steps, 60, f"step {self.steps}")

    def signalled(self) -> list[str]:
        return self.signals.read_text().split() if self.signals.exists() else []

    def state(self) -> str:
        return Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def grower(tmp_path: Path) -> Iterator[Grower]:
    process = Grower(tmp_path)
    yield process
    if process.run.proc.poll() is None:
        process.send(b"q")
        process.run.wait(30)


def samples(run: Running) -> list[dict[str, Any]]:
    found = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    return [s for s in found if s["event"] == "sample"]


def watch(*args: object) -> Running:
    return start_cgseq("watch", *map(str, args))


def test_watch_sees_a_growing_tree_and_never_signals_it(grower: Grower) -> None:
    run = watch(grower.pid, "--interval", "0.2", "--json")
    first = wait_until(lambda: samples(run), 60, "a first sample")[0]
    assert first["version"] == 1 and first["pid"] == grower.pid
    assert {p["pid"] for p in first["largest"]} == {grower.pid, grower.child}, first
    seen = [first["total_rss"]]
    for _ in range(3):
        grower.grow()
        wanted = seen[-1] + STEP * 9 // 10
        latest = wait_until(
            lambda wanted=wanted: [s for s in samples(run) if s["total_rss"] >= wanted],
            60,
            f"a sample of at least {wanted} bytes",
        )
        seen.append(latest[0]["total_rss"])
    assert seen == sorted(seen) and seen[-1] - seen[0] >= 3 * STEP * 9 // 10, seen
    assert samples(run)[-1]["growth_per_minute"] > 0
    os.kill(run.pid, signal.SIGINT)  # how a person ends it: ^C
    assert run.wait(30) == 0, run.stderr
    end = json.loads(run.stdout.splitlines()[-1])
    assert end["event"] == "stopped" and end["peak_rss"] >= seen[-1]
    assert pid_running(grower.pid) and pid_running(grower.child)
    assert grower.state() != "T", "the watched process was stopped"
    assert grower.signalled() == [], "the watched process got a signal"


def test_watch_ends_when_the_process_is_gone_with_a_last_line(grower: Grower) -> None:
    run = watch(grower.pid, "--interval", "0.1")
    wait_until(lambda: "total" in run.stdout, 60, "a first sample line")
    line = run.stdout.splitlines()[0]
    assert "largest: python" in line and f" {grower.pid} " in line, line
    grower.send(b"q")
    grower.run.wait(30)
    assert run.wait(30) == 0, run.stderr
    last = run.stdout.splitlines()[-1]
    assert last.startswith(f"pid {grower.pid} is gone after ") and "peak total" in last, last


def test_count_stops_after_n_samples_and_leaves_the_process_alone(grower: Grower) -> None:
    run = watch(grower.pid, "--interval", "0.1", "--count", "3", "--json")
    assert run.wait(60) == 0, run.stderr
    assert len(samples(run)) == 3
    assert json.loads(run.stdout.splitlines()[-1])["event"] == "stopped"
    assert pid_running(grower.pid) and grower.signalled() == []


def gone_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    proc = subprocess.Popen(["true"])
    proc.wait(30)
    return proc.pid


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "cgseq watch needs a PID"),
        (("abc",), "invalid PID 'abc'"),
        (("0",), "invalid PID '0'"),
        (("1", "--interval", "1ms"), "invalid --interval '1ms'"),
        (("1", "--count", "0"), "invalid --count '0'"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    run = watch(*args)
    assert run.wait(30) == 2
    assert run.stderr.count("\n") == 1 and message in run.stderr, run.stderr


def test_a_pid_that_runs_no_process_is_exit_2() -> None:
    pid = gone_pid()
    run = watch(pid)
    assert run.wait(30) == 2
    assert run.stderr == f"cgseq: no process {pid} to watch\n"


def test_largest_names_the_biggest_process_of_a_group(grower: Grower) -> None:
    grower.grow()
    found = largest([grower.child, grower.pid, gone_pid()])
    assert found is not None and found.pid == grower.pid and found.rss >= STEP
    assert found.command == "python3" or found.command.startswith("python")
    assert largest([gone_pid()]) is None
