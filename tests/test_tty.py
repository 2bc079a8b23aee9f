"""A terminal stays a terminal: the job sees a TTY, owns the foreground, gets ^C."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require

PROBE = (
    "import os, sys, time\n"
    "fg = os.tcgetpgrp(0) == os.getpgrp()\n"
    "print(f'tty={os.isatty(0)}{os.isatty(1)}{os.isatty(2)} foreground={fg}', flush=True)\n"
    "if len(sys.argv) > 1:\n"
    "    print('ready', flush=True)\n"
    "    time.sleep(30)\n"
)


CGSEQ = f"{shlex.quote(sys.executable)} -m cgseq"


def run_in_pty(shell: str, send: bytes | None = None, timeout: float = 30) -> tuple[str, int]:
    """Run ``sh -c shell`` as the session leader of a fresh pseudo-terminal."""
    pid, master = pty.fork()
    if pid == 0:  # child: its own session whose controlling terminal is the pty
        try:
            os.execv("/bin/sh", ["sh", "-c", shell])
        finally:
            os._exit(127)
    output = b""
    deadline = time.monotonic() + timeout
    sent = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side closed
                break
            if not chunk:
                break
            output += chunk
        if send is not None and not sent and b"ready" in output:
            os.write(master, send)
            sent = True
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    return output.decode(errors="replace").replace("\r", ""), os.waitstatus_to_exitcode(status)


@pytest.mark.timeout(60)
def test_job_gets_the_terminal_and_cgseq_gets_it_back() -> None:
    python = shlex.quote(sys.executable)
    after = "import os; print('after', os.tcgetpgrp(0) == os.getpgrp(), flush=True)"
    shell = (
        f"{CGSEQ} run --backend poll -- {python} -c {shlex.quote(PROBE)}; "
        f"{python} -c {shlex.quote(after)}"
    )
    output, code = run_in_pty(shell)
    assert code == 0, output
    assert "tty=TrueTrueTrue foreground=True" in output
    assert "after True" in output, "cgseq did not hand the terminal back"


@pytest.mark.timeout(60)
def test_ctrl_c_on_the_terminal_interrupts_the_job() -> None:
    started = time.monotonic()
    probe = f"{shlex.quote(sys.executable)} -c {shlex.quote(PROBE)} wait"
    output, code = run_in_pty(f"exec {CGSEQ} run --backend poll -- {probe}", send=b"\x03")
    assert "foreground=True" in output
    assert code == 128 + signal.SIGINT or code == 1, output  # Python's KeyboardInterrupt: 1
    assert time.monotonic() - started < 20


# -- job control: ^Z, fg, bg in a real interactive shell ------------------------------------

PROMPT = "<cgseq-test-prompt>"
GATED_JOB = (
    "import os, sys, time\n"
    "gate = sys.argv[1]\n"
    "print(f'ready pid={os.getpid()} parent={os.getppid()}', flush=True)\n"
    "deadline = time.monotonic() + 60\n"
    "while not os.path.exists(gate) and time.monotonic() < deadline:\n"
    "    time.sleep(0.01)\n"
    "print(f'done foreground={os.tcgetpgrp(0) == os.getpgrp()}', flush=True)\n"
    "sys.exit(7)\n"
)


def process_state(pid: int) -> str:
    """The state letter of /proc/<pid>/stat ('T' stopped, 'Z' zombie), '' once gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return ""


def start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (FileNotFoundError, ProcessLookupError):
        return ""


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


class Shell:
    """An interactive bash (job control on) as the session leader of a fresh pty."""

    def __init__(self, tmp: Path) -> None:
        env = {
            **os.environ,
            "PS1": PROMPT.replace("-", "\\055") + "\\n",  # typed text never equals the prompt
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
            "TERM": "dumb",
            "HOME": str(tmp),
        }
        self.pid, self.master = pty.fork()
        if self.pid == 0:  # child: bash's own session; the pty is its controlling terminal
            try:
                os.execvpe("bash", ["bash", "--norc", "--noprofile", "--noediting", "-i"], env)
            finally:
                os._exit(127)
        self.output = ""
        self.seen = 0  # expect() looks only at what came after the last match
        self.started: dict[int, str] = {}  # cgseq's and the job's pid -> start time

    def expect(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = re.compile(pattern).search(self.output, self.seen)
            if found:
                self.seen = found.end()
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} within {timeout}s in:\n{self.output}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.1))
            if ready:
                self.output += os.read(self.master, 4096).decode(errors="replace")
                self.output = self.output.replace("\r", "")

    def prompt(self) -> None:
        self.expect(re.escape(PROMPT) + "\n")

    def type(self, text: str | bytes) -> None:
        os.write(self.master, text if isinstance(text, bytes) else text.encode())

    def close(self) -> None:
        for pid, since in self.started.items():  # left over by a failed test
            if since and start_time(pid) == since:  # still ours, not a reused pid
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.master)


CGROUP_PARENT = "cgseq-test-tty"


@pytest.fixture(scope="module", autouse=True)
def _own_cgroup_parent() -> Iterator[None]:
    """The cgroup1 runs here make their groups under a parent of ours: remove it after."""
    yield
    for parent in Path("/sys/fs/cgroup").glob(f"*/{CGROUP_PARENT}"):
        with contextlib.suppress(OSError):
            parent.rmdir()  # only when empty: every job group in it is gone


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    require("bash", shutil.which("bash") is not None, "an interactive shell with job control")
    opened = Shell(tmp_path)
    try:
        opened.prompt()
        yield opened
    finally:
        opened.close()


def backends_here() -> list[Any]:
    root = os.geteuid() == 0 and Path("/sys/fs/cgroup/memory/cgroup.procs").exists()
    cgroup1 = pytest.param("cgroup1", marks=pytest.mark.skipif(not root, reason="root+cgroup1"))
    return ["poll", cgroup1]


def start_gated(shell: Shell, gate: Path, *options: str) -> tuple[int, int]:
    """Run the gated job under cgseq in ``shell``; returns (job pid, cgseq pid) once ready."""
    job = f"{shlex.quote(sys.executable)} -c {shlex.quote(GATED_JOB)} {gate}"
    env = f"CGSEQ_CGROUP_PARENT={CGROUP_PARENT}"
    shell.type(f"{env} {CGSEQ} run {' '.join(options)} -- {job}; echo rc=$?\n")
    ready = shell.expect(r"ready pid=(\d+) parent=(\d+)")
    shell.started.update({int(pid): start_time(int(pid)) for pid in (ready[1], ready[2])})
    return int(ready[1]), int(ready[2])


def stop_with_ctrl_z(shell: Shell, job: int, supervisor: int) -> None:
    shell.type(b"\x1a")
    shell.expect(r"Stopped")  # the shell saw its job (cgseq) stop
    shell.prompt()
    wait_for(lambda: process_state(job) == "T", "the job to stop")
    wait_for(lambda: process_state(supervisor) == "T", "cgseq to stop with its job")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("backend", backends_here())
def test_ctrl_z_stops_cgseq_with_its_job_and_fg_resumes_both(
    shell: Shell, tmp_path: Path, backend: str
) -> None:
    gate = tmp_path / "gate"
    job, supervisor = start_gated(shell, gate, "--backend", backend)
    stop_with_ctrl_z(shell, job, supervisor)
    shell.type("jobs -l\n")
    shell.expect(rf"{supervisor} Stopped")
    shell.prompt()
    shell.type("fg; echo rc=$?\n")  # a stopped job leaves its list: fg says
    wait_for(lambda: process_state(job) not in ("T", ""), "the job to continue")
    wait_for(lambda: process_state(supervisor) not in ("T", ""), "cgseq to continue")
    gate.touch()
    shell.expect("done foreground=True")  # fg gave the terminal back to the job
    shell.expect("rc=7\n")


@pytest.mark.timeout(90)
def test_ctrl_c_after_ctrl_z_and_fg_reaches_the_job(shell: Shell, tmp_path: Path) -> None:
    job, supervisor = start_gated(shell, tmp_path / "gate", "--backend", "poll")
    stop_with_ctrl_z(shell, job, supervisor)
    shell.type("fg; echo rc=$?\n")  # a stopped job leaves its list: fg says
    wait_for(lambda: process_state(job) not in ("T", ""), "the job to continue")
    shell.type(b"\x03")
    shell.expect(f"rc={128 + signal.SIGINT}\n")
    assert process_state(job) == ""


@pytest.mark.timeout(90)
def test_bg_resumes_the_job_in_the_background(shell: Shell, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    job, supervisor = start_gated(shell, gate, "--backend", "poll")
    stop_with_ctrl_z(shell, job, supervisor)
    shell.type("bg\n")
    shell.prompt()
    wait_for(lambda: process_state(job) not in ("T", ""), "the job to continue")
    assert process_state(supervisor) not in ("T", "")
    gate.touch()
    shell.expect("done foreground=False")  # bg: the terminal stays with the shell
    shell.type(f"wait {supervisor}; echo waited=$?\n")
    shell.expect("waited=7\n")


@pytest.mark.timeout(90)
def test_a_timeout_that_passed_while_stopped_acts_at_once_after_fg(
    shell: Shell, tmp_path: Path
) -> None:
    """--timeout is wall time, as with timeout(1): it runs on while the job is stopped."""
    job, supervisor = start_gated(
        shell, tmp_path / "gate", "--backend", "poll", "--timeout", "2", "--kill-grace", "20"
    )
    started = time.monotonic()
    stop_with_ctrl_z(shell, job, supervisor)
    wait_for(lambda: time.monotonic() > started + 2.5, "the timeout to pass", timeout=10)
    resumed = time.monotonic()
    shell.type("fg; echo rc=$?\n")  # a stopped job leaves its list: fg says
    shell.expect("rc=124\n")
    assert time.monotonic() - resumed < 10, "the timeout waited for the kill grace"
