"""Signals a shell's job control sets up are honoured without a terminal.

- A signal ignored when cgseq started (``cmd &`` in a script ignores SIGINT and SIGQUIT,
  ``nohup``/``trap '' HUP`` ignore SIGHUP) stays ignored: cgseq neither acts on it nor
  forwards it, while it waits for its turn and while the job runs, and the job inherits it
  ignored.
- A job stopped from outside (SIGSTOP, or SIGTSTP with no terminal) does not stop cgseq,
  and SIGTERM to cgseq still ends it at once: the stopped job is continued so it can die.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import Holder, cgseq_env, pid_running, wait_until

from tests.conftest import require

JOB = (
    "import json, os, signal, sys, time\n"
    "ready, gate = sys.argv[1], sys.argv[2]\n"
    "ignored = [s.name for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)\n"
    "           if signal.getsignal(s) == signal.SIG_IGN]\n"
    "info = {'pid': os.getpid(), 'ppid': os.getppid(), 'ignored': ignored}\n"
    "open(ready + '.tmp', 'w').write(json.dumps(info)); os.replace(ready + '.tmp', ready)\n"
    "deadline = time.monotonic() + 60\n"
    "while not os.path.exists(gate) and time.monotonic() < deadline:\n"
    "    time.sleep(0.01)\n"
)

# how a POSIX shell starts a job with the signal ignored: `cmd &` without job control
# ignores SIGINT (and SIGQUIT); `trap '' HUP` (what nohup does) is inherited as SIG_IGN
IGNORED_BY_SHELL = {signal.SIGINT: "", signal.SIGHUP: "trap '' HUP; "}


class Background:
    """``sh -c 'cgseq run -- JOB & wait'``: cgseq as a script's background job."""

    def __init__(self, project: Path, work: Path, ignored: signal.Signals, *options: str) -> None:
        self.ready, self.gate, self.err = (work / n for n in ("ready", "gate", "err"))
        self.pidfile, self.rcfile = work / "cgseq.pid", work / "rc"
        cgseq = " ".join([sys.executable, "-m", "cgseq", "run", *options])
        job = f'{sys.executable} -c "$JOB" {self.ready} {self.gate}'
        script = (
            f"{IGNORED_BY_SHELL[ignored]}{cgseq} -- {job} 2>{self.err} & "
            f"echo $! > {self.pidfile}; wait $!; echo $? > {self.rcfile}"
        )
        env = cgseq_env({"JOB": JOB})
        self.shell = subprocess.Popen(
            ["/bin/sh", "-c", script], cwd=project, env=env, stdin=subprocess.DEVNULL
        )
        wait_until(self.pidfile.exists, 15, "the shell to start cgseq")
        wait_until(lambda: self.pidfile.read_text().strip(), 5, "cgseq's pid")
        self.pid = int(self.pidfile.read_text())

    def job(self) -> dict[str, Any]:
        wait_until(lambda: self.ready.exists() or self.rcfile.exists(), 30, "the job to start")
        assert self.ready.exists(), f"cgseq exited {self.rc()}: {self.err.read_text()}"
        return json.loads(self.ready.read_text())  # type: ignore[no-any-return]

    def rc(self) -> int:
        wait_until(self.rcfile.exists, 30, "cgseq to exit")
        return int(self.rcfile.read_text())

    def stderr(self) -> str:
        return self.err.read_text() if self.err.exists() else ""

    def stop(self) -> None:
        job = json.loads(self.ready.read_text())["pid"] if self.ready.exists() else None
        for pid in (self.pid, job, self.shell.pid):
            if pid is not None and pid_running(pid):
                os.kill(pid, signal.SIGKILL)
        self.shell.wait(10)


@pytest.fixture
def background(project: Path, work: Path) -> Iterator[Callable[..., Background]]:
    started: list[Background] = []

    def launch(ignored: signal.Signals, *options: str) -> Background:
        started.append(Background(project, work, ignored, *options))
        return started[-1]

    yield launch
    for run in started:
        run.stop()


def pending_or_running(pid: int, signum: int) -> bool:
    """True until ``pid`` sleeps again with ``signum`` no longer pending: it was handled."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    pending = int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)
    return fields["State"][0] != "S" or bool(pending & (1 << (signum - 1)))


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def deliver(pid: int, signum: int) -> None:
    """Send ``signum`` and wait until ``pid`` has dealt with it (handled, or discarded)."""
    os.kill(pid, signum)
    wait_until(lambda: not pending_or_running(pid, signum), 10, f"cgseq to take signal {signum}")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("ignored", list(IGNORED_BY_SHELL), ids=lambda s: s.name)
def test_a_signal_ignored_at_start_stays_ignored_while_waiting(
    background: Callable[..., Background], hold: Callable[..., Holder], ignored: signal.Signals
) -> None:
    holder = hold()
    holder.info()
    run = background(ignored, "--backend", "poll")
    wait_until(lambda: "waiting for turn" in run.stderr(), 15, "cgseq to queue up")
    deliver(run.pid, ignored)
    assert pid_running(run.pid), f"cgseq quit while waiting: {run.stderr()}"
    holder.release()
    info = run.job()
    assert ignored.name in info["ignored"], "the job did not inherit the ignored signal"
    run.gate.touch()
    assert run.rc() == 0, run.stderr()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("ignored", list(IGNORED_BY_SHELL), ids=lambda s: s.name)
def test_a_signal_ignored_at_start_stays_ignored_while_running(
    background: Callable[..., Background], ignored: signal.Signals
) -> None:
    run = background(ignored, "--backend", "poll")
    info = run.job()
    assert info["ppid"] == run.pid
    deliver(run.pid, ignored)
    assert pid_running(info["pid"]), f"cgseq passed the ignored signal on: {run.stderr()}"
    assert ignored.name in info["ignored"], "the job did not inherit the ignored signal"
    run.gate.touch()
    assert run.rc() == 0, run.stderr()


def kernel_backends() -> list[Any]:
    return ["poll", pytest.param("cgroup1", marks=pytest.mark.kernel)]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("backend", kernel_backends())
@pytest.mark.parametrize("stop", [signal.SIGSTOP, signal.SIGTSTP], ids=lambda s: s.name)
def test_sigterm_ends_a_job_stopped_from_outside_at_once(
    background: Callable[..., Background], backend: str, stop: signal.Signals
) -> None:
    if backend == "cgroup1":
        root = os.geteuid() == 0 and Path("/sys/fs/cgroup/memory/cgroup.procs").exists()
        require("cgroup1", root, "root and the v1 memory controller")
    run = background(signal.SIGINT, "--backend", backend, "--kill-grace", "30")
    job = run.job()["pid"]
    os.kill(job, stop)
    wait_until(lambda: state(job) == "T", 10, "the job to stop")
    wait_until(lambda: state(run.pid) == "S", 10, "cgseq to sleep (not stop) with no terminal")
    started = time.monotonic()
    os.kill(run.pid, signal.SIGTERM)
    assert run.rc() == 128 + signal.SIGTERM, run.stderr()
    assert time.monotonic() - started < 10, "the stopped job lived on until the kill grace"
    assert "interrupted by SIGTERM" in run.stderr()
