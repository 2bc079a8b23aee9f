"""Queued waiters stay lean: no structlog, rich or pystemd before they hold the slot."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.support import (
    WAITING,
    Running,
    start_cgseq,
    start_process,
    wait_until,
    with_repo_on_path,
)

FORBIDDEN = ("structlog", "rich", "pystemd")


def imported(stderr: str) -> set[str]:
    """Top-level module names from ``python -X importtime`` lines."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def queued(tmp_path: Path, name: str) -> Running:
    argv = [sys.executable, "-X", "importtime", "-m", "cgseq", "run", "--", "true"]
    env = with_repo_on_path({**os.environ, "CGSEQ_TEST_NAME": name})
    return start_process(argv, cwd=tmp_path, env=env)


@pytest.mark.vm  # also where pystemd and systemd exist: the head waiter must not load them
@pytest.mark.timeout(60)
def test_waiters_import_nothing_heavy_before_their_turn(tmp_path: Path) -> None:
    ready = tmp_path / "holder.ready"
    holder = start_cgseq("run", "--", "sh", "-c", f"touch {ready}; exec sleep 30", cwd=tmp_path)
    try:
        wait_until(lambda: ready.exists() or holder.proc.poll() is not None, 30, "the holder")
        assert ready.exists(), holder.stderr
        # The head gets ready (on_next) before it announces its wait; the one behind it only
        # waits. So once each has said it waits, all it does before its turn is done.
        head = queued(tmp_path, "head")
        head.wait_stderr(WAITING, 30)
        behind = queued(tmp_path, "behind")
        behind.wait_stderr(WAITING, 30)
        for waiter in (behind, head):
            waiter.proc.send_signal(signal.SIGTERM)  # while still waiting
        codes = {"head": head.wait(20), "behind": behind.wait(20)}
    finally:
        holder.proc.send_signal(signal.SIGTERM)
        holder.wait(20)
    assert codes == {"head": 128 + signal.SIGTERM, "behind": 128 + signal.SIGTERM}
    leftover = [g for g in Path("/sys/fs/cgroup").glob(f"*/cgseq/{head.pid}-*")]
    assert leftover == [], "the head waiter's prepared group outlived it"
    for name, waiter in (("head", head), ("behind", behind)):
        stderr = waiter.stderr
        assert "interrupted by signal 15 while waiting" in stderr, stderr[-500:]
        heavy = imported(stderr) & set(FORBIDDEN)
        assert not heavy, f"the {name} waiter imported {heavy} before its turn"
