"""``cgseq monitor``: the pure frame at 80x24 and 40x10, ``--once`` and plain frames against
real jobs, and the live view driven through a real pty (``k`` stops the job, ``q`` quits)."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path
from typing import Any

import pytest
from cli_support import cgseq_env, job, wait_queued, wait_until

from cgseq.monitor import frame
from tests.support import CGSEQ, with_repo_on_path

pytestmark = pytest.mark.timeout(120)


def crafted(waiters: int = 2) -> dict[str, Any]:
    """A snapshot as ``status --json`` gives it, with what the monitor adds."""
    memory = {
        "now": 1288 << 20,
        "peak": 1400 << 20,
        "limit": 2 << 30,
        "enforced_by": "kernel: memory.max",
    }
    pids = {"now": 7, "peak": 9, "limit": 100, "enforced_by": "kernel: pids.max"}
    running = {
        "id": "4242-abcde-1",
        "argv": ["/usr/bin/python3", "-m", "pytest", "-x", "tests/" + "x" * 90],
        "pid": 4242,
        "supervisor_pid": 4240,
        "started": 0.0,
        "elapsed": 75.0,
        "backend": "cgroup2",
        "timeout": None,
        "memory": memory,
        "pids": pids,
        "largest": [
            {"pid": 4242 + n, "command": f"python{n}", "rss": (600 - n) << 20} for n in range(5)
        ],
    }
    queue = [
        {
            "place": n,
            "id": f"50{n}-abcde-1",
            "argv": ["make", f"target{n}"],
            "pid": 500 + n,
            "since": 0.0,
            "waited": 3.0 * n,
            "ticket": f"t{n}",
            "problem": None,
        }
        for n in range(1, waiters + 1)
    ]
    slot = {
        "slot": "s",
        "lock": None,
        "where": "/home/u/proj",
        "running": running,
        "waiting": queue,
        "unsupervised": None,
    }
    recent = [
        {
            "id": 9,
            "command": "pytest -x",
            "outcome": "memory",
            "peak": 2 << 30,
            "duration": 61.0,
            "started": 0.0,
        }
    ]
    return {
        "version": 1,
        "scope": "project",
        "taken_at": 0.0,
        "slots": [slot],
        "orphans": [],
        "recent": recent,
    }


def test_frame_at_80x24_shows_every_section_within_the_width() -> None:
    lines = frame.render(crafted(), 80, 24, selected=1)
    text = "\n".join(lines)
    assert len(lines) <= 24 and max(map(len, lines)) <= 80, lines
    assert "running python3 -m pytest -x" in text and "pid 4242" in text
    assert "[#############.......] 1.26G / 2G  peak 1.37G  (kernel: memory.max)" in text
    assert "processes 7 / 100" in text
    assert "python4" in text  # the fifth largest process
    assert "> 2. 502-abcde-1  pid 502" in text  # the cursor is on the second waiter
    assert "  1. 501-abcde-1  pid 501" in text
    assert "memory" in lines[-1] and "pytest -x" in lines[-1]  # the recent job


def test_frame_at_40x10_drops_sections_from_the_bottom() -> None:
    lines = frame.render(crafted(), 40, 10)
    text = "\n".join(lines)
    assert len(lines) <= 10 and max(map(len, lines)) <= 40, lines
    assert "pid 4242" in text and "[" in text  # the running job and its memory stay
    assert "queue" not in text and "recent jobs" not in text


def test_frame_shows_an_unavailable_history_and_never_a_control_character() -> None:
    view = crafted()
    del view["recent"]
    view["recent_error"] = "history database x is corrupt"
    view["slots"][0]["running"]["argv"] = ["evil\x1b[2J\nline"]
    lines = frame.render(view, 80, 24)
    assert lines[-1] == "history unavailable: history database x is corrupt"
    assert not any(c in "\n\x1b" for line in lines for c in line)


def test_once_shows_the_running_job_its_pid_and_two_waiters(cgseq, start, hold, work: Path) -> None:
    holder = hold("holder")
    waiters = [start("run", "--", *job("mark", work / name)) for name in ("first", "second")]
    for waiter in waiters:
        wait_queued(waiter)
    shown = cgseq("monitor", "--once", env=cgseq_env({"COLUMNS": "300"}))
    assert shown.returncode == 0, shown
    job_pid = holder.info()["pid"]
    assert "cli_job.py hold" in shown.stdout and f"pid {job_pid}" in shown.stdout, shown.stdout
    assert "1. " in shown.stdout and all(f"pid {w.pid}" in shown.stdout for w in waiters)
    assert "recent jobs" in shown.stdout
    holder.release()
    assert holder.run.wait(60) == 0 and [w.wait(60) for w in waiters] == [0, 0]


def test_plain_frames_into_a_pipe_and_a_corrupt_history(cgseq, tmp_path: Path) -> None:
    database = Path(os.environ["XDG_STATE_HOME"]) / "cgseq" / "history.sqlite3"
    database.parent.mkdir(parents=True, exist_ok=True)
    database.write_bytes(b"not a database " * 100)
    shown = cgseq("monitor", "--count", "2", "--interval", "0.1s")
    assert shown.returncode == 0, shown
    frames = shown.stdout.split("\n\n" + "cgseq monitor")
    assert len(frames) == 2 and shown.stdout.startswith("cgseq monitor"), shown.stdout
    assert shown.stdout.count("history unavailable: ") == 2, shown.stdout


@pytest.mark.parametrize(
    "args", [("--interval", "soon"), ("--count", "0"), ("--once", "--count", "2")]
)
def test_bad_flags_are_a_usage_error(cgseq, args: tuple[str, ...]) -> None:
    shown = cgseq("monitor", *args)
    assert shown.returncode == 2 and shown.stderr.startswith("cgseq: "), shown
    assert len(shown.stderr.splitlines()) == 1 and not shown.stdout


class Terminal:
    """A real pty, 80x24, its output collected by a thread."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self.screen = bytearray()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:  # EIO: the other side closed
                return
            if not chunk:
                return
            self.screen += chunk

    def wait_for(self, text: str, after: int = 0) -> int:
        """Until ``text`` shows after byte ``after``; where the output is now."""
        wanted = text.encode()
        try:
            wait_until(
                lambda: wanted in self.screen[after:] or self.proc.poll() is not None, 60, text
            )
        except AssertionError:
            raise AssertionError(f"no {text!r}: {bytes(self.screen[after:])[-3000:]!r}") from None
        assert wanted in self.screen[after:], f"no {text!r}: {bytes(self.screen)[-3000:]!r}"
        return len(self.screen)

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        os.close(self.master)


def test_live_view_in_a_pty_stops_the_job_on_k_y_and_quits_on_q(
    start, hold, project: Path, work: Path
) -> None:
    holder = hold("holder")
    waiter = start("run", "--", *job("mark", work / "next"))
    wait_queued(waiter)
    env = with_repo_on_path(cgseq_env({"TERM": "xterm"}, drop=("COLUMNS", "LINES")))
    terminal = Terminal([*CGSEQ, "monitor"], project, env)
    try:
        job_pid = str(holder.info()["pid"])
        terminal.wait_for(job_pid)  # the running job, and its process in the largest
        seen = terminal.wait_for(str(waiter.pid))
        terminal.press("k")
        seen = terminal.wait_for("? y/n", seen)  # the question, drawn whole
        terminal.press("y")
        assert holder.run.wait(60) == 143, holder.run.stderr
        assert waiter.wait(60) == 0  # the turn went on
        terminal.press("q")
        assert terminal.proc.wait(60) == 0
    finally:
        terminal.close()


def test_run_never_imports_curses(project: Path) -> None:
    shown = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cgseq", "run", "--", "true"],
        cwd=project,
        env=cgseq_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown
    assert "curses" not in shown.stderr and "cgseq.monitor" not in shown.stderr
