"""The one copy of the helpers every test shares: wait for an event, check a pid, run cgseq.

Stdlib only, so the suite's job scripts (``tests/helpers``) can import it too. Tests wait
for events (a ready file, a line on stderr, a ticket in the slot) with :func:`wait_until`,
bounded; they never sleep and hope. Import as ``from tests.support import ...`` (pytest runs
from the repository root: ``python -m pytest``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]
WAITING = "cgseq: waiting for turn"  # what a queued cgseq prints once it really waits
CGSEQ = (sys.executable, "-m", "cgseq")


def now() -> int:
    """CLOCK_MONOTONIC in ns: system-wide on Linux, so stamps from different processes compare."""
    return time.monotonic_ns()


def wait_until(predicate: Callable[[], T], timeout: float, what: str = "") -> T:
    """Until ``predicate()`` is true, for at most ``timeout`` s; returns what it returned.
    Fails naming ``what`` (or the predicate) when the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.01)
    if value := predicate():  # a loaded machine may have kept us from looking in time
        return value
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


def pid_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie is dead, just not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pids: Sequence[int], timeout: float, what: str) -> None:
    wait_until(lambda: not any(pid_running(p) for p in pids), timeout, what)


def with_repo_on_path(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: ours) with this checkout importable, output unbuffered."""
    env = dict(os.environ if env is None else env)
    path = env.get("PYTHONPATH", "")
    if str(REPO) not in path.split(os.pathsep):
        env["PYTHONPATH"] = f"{REPO}{os.pathsep}{path}" if path else str(REPO)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cgseq(
    *args: object,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """The one CLI runner: ``python -m cgseq ARGS`` to completion, bounded, output captured."""
    return subprocess.run(
        [*CGSEQ, *map(str, args)],
        cwd=cwd,
        env=with_repo_on_path(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


@dataclass
class Running:
    """A process started in the background; both pipes drained with arrival times."""

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
                f"pid {self.pid} running after {timeout}s; stderr:\n{self.stderr}"
            ) from None
        self.ended = self.ended or time.monotonic()
        for thread in self.threads:
            thread.join(2)  # a kept daemon may hold a pipe; do not wait for its EOF
        return code

    def line_at(self, needle: str) -> tuple[float, str] | None:
        """The first stderr line holding ``needle``, with the time it arrived."""
        return next(((at, line) for at, line in list(self.err) if needle in line), None)

    def wait_stderr(self, needle: str, timeout: float = 10) -> str:
        def ended() -> bool:
            return self.proc.poll() is not None and all(not t.is_alive() for t in self.threads)

        wait_until(lambda: self.line_at(needle) or ended(), timeout, f"{needle!r}")
        found = self.line_at(needle)
        assert found, (
            f"pid {self.pid} exited ({self.proc.poll()}) without {needle!r}:\n{self.stderr}"
        )
        return found[1]


def drain(stream: object, sink: list[tuple[float, str]]) -> None:
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        sink.append((time.monotonic(), raw.decode(errors="replace")))


def start_process(
    argv: Sequence[object], cwd: Path | str | None = None, env: dict[str, str] | None = None
) -> Running:
    """Start ``argv`` with stdin closed; its stdout and stderr are drained as they arrive."""
    proc = subprocess.Popen(
        list(map(str, argv)),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    run = Running(proc, time.monotonic())
    for stream, sink in ((proc.stdout, run.out), (proc.stderr, run.err)):
        thread = threading.Thread(target=drain, args=(stream, sink), daemon=True)
        thread.start()
        run.threads.append(thread)
    return run


def start_cgseq(
    *args: object, cwd: Path | str | None = None, env: dict[str, str] | None = None
) -> Running:
    """``python -m cgseq ARGS`` in the background (see :class:`Running`)."""
    return start_process([*CGSEQ, *args], cwd, with_repo_on_path(env))
