"""The waiting line: redrawn in place on a terminal, printed again in a log only when the job
holding the turn changes."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import WAITING, cgseq_env, job, wait_queued, wait_until, with_repo_on_path

pytestmark = pytest.mark.timeout(120)


def test_in_a_log_it_prints_again_only_when_the_holder_changes(start, hold, work: Path) -> None:
    first = hold("first")
    ready, release = work / "second.ready", work / "second.release"
    second = start("run", "--", *job("hold", ready, release))
    wait_queued(second)
    waiter = start("run", "--", "true")
    wait_queued(waiter)
    first.release()
    wait_until(lambda: ready.exists(), 60, "the second job to start")
    wait_until(lambda: waiter.stderr.count(WAITING) >= 2, 60, "the waiter to name the new holder")
    release.touch()
    assert waiter.wait(60) == 0 and second.wait(60) == 0
    lines = [line for line in waiter.stderr.splitlines() if WAITING in line]
    assert len(lines) == 2, waiter.stderr  # once per holder, not once a second
    second_pid = json.loads(ready.read_text())["pid"]
    assert f"(pid {first.info()['pid']}," in lines[0], lines
    assert f"(pid {second_pid}," in lines[1] and "you are 1st of 1" in lines[1], lines


def test_on_a_terminal_it_is_redrawn_in_place(hold, project: Path) -> None:
    holder = hold("holder")
    controller, terminal = pty.openpty()
    waiter = subprocess.Popen(
        [sys.executable, "-m", "cgseq", "run", "--", "true"],
        cwd=project,
        env=with_repo_on_path(cgseq_env()),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    seen = b""

    def redrawn() -> bool:
        nonlocal seen
        if select.select([controller], [], [], 0.1)[0]:
            seen += os.read(controller, 4096)
        return seen.count(b"\r\x1b[K") >= 2  # drawn, then drawn again over itself

    try:
        wait_until(redrawn, 60, "the waiting line to be redrawn")
        assert seen.count(WAITING.encode()) >= 2 and b"\n" not in seen.split(b"\r\x1b[K")[1]
        holder.release()
        assert waiter.wait(60) == 0
    finally:
        waiter.kill()
        waiter.wait(10)
        os.close(controller)
