"""Helpers of the integration tests: real git repositories, heavy steps, and their log.

The fixtures (``conftest.py``) isolate git, pre-commit and the shims from the machine's own
settings and put a ``cgseq`` of this checkout first on PATH.
"""

from __future__ import annotations

import itertools
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from tests.support import REPO, WAITING, Running, run_cgseq, wait_until

HEAVY_STEP = REPO / "tests" / "helpers" / "heavy_step.py"
GIT_TIMEOUT = 60


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"git {shlex.join(args)}: {done.stderr}"
    return done.stdout


def init_repo(path: Path) -> Path:
    """A git repository with one commit (so HEAD exists)."""
    path.mkdir(parents=True)
    git(path, "init", "-q")
    (path / "README").write_text("test repository\n")
    git(path, "add", "README")
    git(path, "commit", "-q", "-m", "initial")
    return path


def heavy_step(log: Path, name: str, *options: object) -> list[str]:
    """The argv of a heavy step (``tests/helpers/heavy_step.py``)."""
    return [sys.executable, str(HEAVY_STEP), str(log), name, *map(str, options)]


def write_hook(path: Path, argv: list[str]) -> Path:
    """A foreign hook, as a user writes one: a shell script running ``argv``."""
    path.write_text(f'#!/bin/sh\n{shlex.join(argv)} "$@"\n')
    path.chmod(0o755)
    return path


class Step(NamedTuple):
    name: str
    pid: int
    start: int
    end: int | None
    turn: str  # $CGSEQ_TURN of the step: "-" outside any cgseq job


def steps(log: Path) -> list[Step]:
    """The steps of ``log`` in the order they started (the log's order)."""
    started: dict[int, tuple[str, int, str]] = {}
    ended: dict[int, int] = {}
    for line in log.read_text().splitlines() if log.exists() else ():
        what, name, pid, ns, turn = line.split()
        if what == "start":
            started[int(pid)] = (name, int(ns), turn)
        else:
            ended[int(pid)] = int(ns)
    return [Step(n, pid, at, ended.get(pid), turn) for pid, (n, at, turn) in started.items()]


def events(log: Path) -> list[str]:
    """``start NAME`` / ``end NAME`` in the order they happened."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [" ".join(line.split()[:2]) for line in lines]


def assert_one_at_a_time(log: Path) -> list[Step]:
    """Every step ended before the next one started: the log reads start, end, start, end."""
    done = steps(log)
    order = events(log)
    assert all(step.end is not None for step in done), order
    expected = [f"{what} {step.name}" for step in done for what in ("start", "end")]
    assert order == expected, f"steps overlapped: {order}"
    for before, after in itertools.pairwise(done):
        assert before.end is not None and before.end <= after.start, order
    return done


def waiting_argvs() -> list[list[str]]:
    """The commands queued behind a running job, in every slot (``cgseq status --json``)."""
    done = run_cgseq("status", "--all", "--json")
    assert done.returncode == 0, done.stderr
    slots = json.loads(done.stdout)["slots"]
    return [ticket.get("argv") or [] for slot in slots for ticket in slot["waiting"]]


def in_flight(log: Path) -> list[str]:
    """The names of the steps that started and have not ended."""
    return [step.name for step in steps(log) if step.end is None]


def waiting_lines(processes: list[Running]) -> int:
    """How many ``cgseq: waiting for turn`` lines the processes have printed."""
    return sum(process.stderr.count(WAITING) for process in processes)


def release_one_at_a_time(log: Path, gates: Path, count: int, waiters: list[Running]) -> None:
    """With ``count`` gated steps started at once: wait until one runs and the others
    announced that they wait, then open the gate of the one running, ``count`` times.
    Fails as soon as two steps are in flight at once."""
    wait_until(
        lambda: in_flight(log) and waiting_lines(waiters) >= count - 1,
        120,
        f"one step running and {count - 1} waiting",
    )
    for _ in range(count):
        running = in_flight(log)
        assert len(running) == 1, f"steps overlapped: {events(log)}"
        (gates / running[0]).touch()
        wait_until(lambda r=running[0]: r not in in_flight(log), 120, f"{running[0]} to end")
        wait_until(lambda: in_flight(log) or len(steps(log)) == count, 120, "the next step")
