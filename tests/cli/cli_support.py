"""Plumbing for the black-box CLI tests: run the real ``cgseq`` with real processes.

Tests import the plain helpers from here; the fixtures (in ``conftest.py``) are:

- ``cgseq(*args)`` runs ``python -m cgseq ...`` to completion, bounded by a timeout;
- ``start(*args)`` starts one in the background and drains its pipes with arrival times;
- ``project`` is a fresh ``git init`` repo (a project as cgseq sees it);
- ``job(...)`` builds the argv of a helper job from ``tests/helpers/cli_job.py``;
- ``reaper`` kills, at teardown, every process a test started or a job recorded, by pid
  (and only those: never by name).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

# The shared helpers live once, in tests/support.py; they are re-exported here by name.
from tests.support import (
    REPO,
    WAITING,
    Running,
    drain,
    now,
    pid_running,
    run_cgseq,
    start_cgseq,
    start_process,
    wait_gone,
    wait_until,
    with_repo_on_path,
)

__all__ = [
    "CGROUP_PARENT",
    "WAITING",
    "Holder",
    "Reaper",
    "Running",
    "cgseq_env",
    "cgseq_lines",
    "drain",
    "job",
    "now",
    "parse_result",
    "pid_running",
    "read_pids",
    "remove_test_cgroups",
    "run_cgseq",
    "says_timeout",
    "send",
    "start_cgseq",
    "start_process",
    "wait_gone",
    "wait_queued",
    "wait_until",
]

JOB_SCRIPT = REPO / "tests" / "helpers" / "cli_job.py"
CGROUP_PARENT = "cgseq-test-cli"
CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgseq_env(extra: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """The test's environment (private state dir from the autouse fixture) + cgseq importable."""
    env = with_repo_on_path()
    # Our own parent group: a cgseq run reaps orphaned groups under its parent, and these
    # tests must neither reap nor be reaped by other suites running on the same machine.
    env["CGSEQ_CGROUP_PARENT"] = CGROUP_PARENT
    for name in drop:
        env.pop(name, None)
    env.update(extra or {})
    return env


def job(*args: str) -> list[str]:
    """argv of a helper job: ``job("mark", out)`` → python tests/helpers/cli_job.py mark out."""
    return [sys.executable, str(JOB_SCRIPT), *map(str, args)]


def read_pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split() if p.isdigit()] if path.exists() else []


def cgseq_lines(stderr: str) -> list[str]:
    """cgseq's own lines, but for warnings (e.g. that the poll backend only samples)."""
    return [
        line
        for line in stderr.splitlines()
        if line.startswith("cgseq:") and not line.startswith("cgseq: warning:")
    ]


def says_timeout(line: str) -> bool:
    return re.search(r"time[ds]? ?out", line, re.IGNORECASE) is not None


def parse_result(stdout: str) -> dict[str, object]:
    """The ``--json`` result: the JSON object that ends stdout (the job's output comes first)."""
    text = stdout.rstrip()
    starts = [0] + [m.start() + 1 for m in re.finditer(r"\n\{", text)]
    for start in starts:
        try:
            value = json.loads(text[start:])
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise AssertionError(f"no JSON result at the end of stdout: {stdout!r}")


class Reaper:
    """Kills what a test left running, by pid with identity check (psutil guards pid reuse)."""

    def __init__(self) -> None:
        self.procs: list[psutil.Process] = []
        self.running: list[Running] = []

    def track(self, *pids: int) -> None:
        for pid in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                self.procs.append(psutil.Process(pid))

    def track_file(self, path: Path) -> list[int]:
        pids = read_pids(path)
        self.track(*pids)
        return pids

    def cleanup(self) -> None:
        for run in self.running:
            if run.proc.poll() is None:
                with contextlib.suppress(psutil.NoSuchProcess):
                    self.procs.extend(psutil.Process(run.pid).children(recursive=True))
                run.proc.kill()
        for proc in self.procs:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        for run in self.running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.proc.wait(5)


@dataclass
class Holder:
    """A job that holds the turn until the test releases it."""

    run: Running
    ready: Path
    release_file: Path
    end: Path

    def info(self, timeout: float = 15) -> dict[str, object]:
        wait_until(
            lambda: self.ready.exists() or self.run.proc.poll() is not None,
            timeout,
            "the holder's job to start",
        )
        assert self.ready.exists(), f"holder exited {self.run.proc.poll()}:\n{self.run.stderr}"
        return json.loads(self.ready.read_text())  # type: ignore[no-any-return]

    def release(self) -> None:
        self.release_file.touch()

    def end_ns(self) -> int:
        return int(self.end.read_text().split()[1])


def wait_queued(run: Running, timeout: float = 10) -> None:
    """Until ``run`` says it waits for its turn (its place in the queue is then fixed)."""
    run.wait_stderr(WAITING, timeout)


def send(run: Running, sig: signal.Signals) -> None:
    os.kill(run.pid, sig)


def remove_test_cgroups(name: str = CGROUP_PARENT) -> None:
    """rmdir what is left of our parent group (empty job groups first); never anything else."""
    for parent in [*CGROUP_ROOT.glob(name), *CGROUP_ROOT.glob(f"*/{name}")]:
        for group in sorted(parent.glob("*-*")):
            if group.is_dir():
                with contextlib.suppress(OSError):
                    group.rmdir()
        with contextlib.suppress(OSError):
            parent.rmdir()
