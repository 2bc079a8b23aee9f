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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
JOB_SCRIPT = REPO / "tests" / "helpers" / "cli_job.py"
WAITING = "cgseq: waiting for turn"
CGROUP_PARENT = "cgseq-test-cli"
CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgseq_env(extra: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """The test's environment (private state dir from the autouse fixture) + cgseq importable."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = f"{REPO}{os.pathsep}{path}" if path else str(REPO)
    env["PYTHONUNBUFFERED"] = "1"
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


def now() -> int:
    return time.monotonic_ns()


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def pid_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie is dead, just not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


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


@dataclass
class Running:
    """A ``cgseq`` started in the background; both pipes drained with arrival times."""

    proc: subprocess.Popen[bytes]
    started: float
    out: list[tuple[float, str]] = field(default_factory=list)
    err: list[tuple[float, str]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    ended: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stdout(self) -> str:
        return "".join(line for _, line in list(self.out))

    @property
    def stderr(self) -> str:
        return "".join(line for _, line in list(self.err))

    def wait(self, timeout: float = 30) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"cgseq pid {self.pid} running after {timeout}s; stderr:\n{self.stderr}"
            ) from None
        self.ended = self.ended or time.monotonic()
        for thread in self.threads:
            thread.join(2)  # a kept daemon may hold a pipe; do not wait for its EOF
        return code

    def wait_stderr(self, needle: str, timeout: float = 10) -> str:
        def found() -> str | None:
            return next((line for _, line in list(self.err) if needle in line), None)

        wait_until(lambda: found() or self.proc.poll() is not None, timeout, f"{needle!r}")
        line = found()
        assert line, f"cgseq exited ({self.proc.poll()}) without {needle!r}:\n{self.stderr}"
        return line


def drain(stream: object, sink: list[tuple[float, str]]) -> None:
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        sink.append((time.monotonic(), raw.decode(errors="replace")))


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


def remove_test_cgroups() -> None:
    """rmdir what is left of our parent group (empty job groups first); never anything else."""
    for parent in [*CGROUP_ROOT.glob(CGROUP_PARENT), *CGROUP_ROOT.glob(f"*/{CGROUP_PARENT}")]:
        for group in sorted(parent.glob("*-*")):
            if group.is_dir():
                with contextlib.suppress(OSError):
                    group.rmdir()
        with contextlib.suppress(OSError):
            parent.rmdir()
