"""Queued waiters stay lean: no structlog, rich or pystemd before they hold the slot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FORBIDDEN = ("structlog", "rich", "pystemd")


def imported(stderr: str) -> set[str]:
    """Top-level module names from ``python -X importtime`` lines."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def queued(tmp_path: Path, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "cgseq", "run", "--", "true"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CGSEQ_TEST_NAME": name},
    )


@pytest.mark.vm  # also where pystemd and systemd exist: the head waiter must not load them
@pytest.mark.timeout(60)
def test_waiters_import_nothing_heavy_before_their_turn(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-m", "cgseq", "run", "--", "sleep", "30"],
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        head = queued(tmp_path, "head")  # next in line: prepares ahead of its turn
        time.sleep(1.0)
        behind = queued(tmp_path, "behind")
        time.sleep(2.0)
        assert head.poll() is None and behind.poll() is None, "waiters did not wait"
        for waiter in (behind, head):
            waiter.send_signal(signal.SIGTERM)  # while still waiting
        outputs = {
            "head": head.communicate(timeout=20)[1],
            "behind": behind.communicate(timeout=20)[1],
        }
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(20)
    assert head.returncode == behind.returncode == 128 + signal.SIGTERM
    leftover = [g for g in Path("/sys/fs/cgroup").glob(f"*/cgseq/{head.pid}-*")]
    assert leftover == [], "the head waiter's prepared group outlived it"
    for name, stderr in outputs.items():
        assert "waiting for turn" in stderr, stderr[-500:]
        assert "interrupted by signal 15 while waiting" in stderr
        heavy = imported(stderr) & set(FORBIDDEN)
        assert not heavy, f"the {name} waiter imported {heavy} before its turn"
