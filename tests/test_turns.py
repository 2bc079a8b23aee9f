"""The turn queue itself, with real processes competing for one slot directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cgseq import turns
from cgseq.errors import WaitTimeout

CONTENDER = """
import sys, time
from pathlib import Path
from cgseq import turns
slot, name, hold, log = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
info = {"pid": __import__("os").getpid(), "argv": [name], "since": time.time()}
turn = turns.queue_up(slot, info, turns.process_start_ns())  # as the CLI does
turn.wait(None)
with open(log, "a") as out:
    out.write(f"start {name}\\n")
time.sleep(hold)
with open(log, "a") as out:
    out.write(f"end {name}\\n")
turn.release()
"""


def contender(slot: Path, name: str, hold: float, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CONTENDER, str(slot), name, str(hold), str(log)])


def events(log: Path) -> list[str]:
    return log.read_text().split("\n")[:-1] if log.exists() else []


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.mark.timeout(60)
def test_thirty_contenders_run_one_at_a_time_in_arrival_order(tmp_path: Path) -> None:
    log = tmp_path / "log"
    procs = []
    for n in range(30):
        procs.append(contender(tmp_path / "slot", f"{n:02d}", 0.02, log))
        time.sleep(0.05)
    for proc in procs:
        assert proc.wait(timeout=50) == 0
    lines = events(log)
    assert lines == [f"{kind} {n:02d}" for n in range(30) for kind in ("start", "end")]


@pytest.mark.timeout(30)
def test_sigkilled_holder_hands_over_at_once(tmp_path: Path) -> None:
    log = tmp_path / "log"
    holder = contender(tmp_path / "slot", "holder", 60, log)
    wait_for(lambda: events(log) == ["start holder"])
    waiter = contender(tmp_path / "slot", "waiter", 0, log)
    time.sleep(0.3)
    assert events(log) == ["start holder"]
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert waiter.wait(timeout=10) == 0
    assert events(log) == ["start holder", "start waiter", "end waiter"]


@pytest.mark.timeout(30)
def test_sigkilled_waiter_leaves_the_queue_intact(tmp_path: Path) -> None:
    log = tmp_path / "log"
    first = contender(tmp_path / "slot", "a", 1.0, log)
    wait_for(lambda: events(log) == ["start a"])
    doomed = contender(tmp_path / "slot", "b", 0, log)
    time.sleep(0.2)
    last = contender(tmp_path / "slot", "c", 0, log)
    time.sleep(0.2)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    assert first.wait(timeout=10) == 0 and last.wait(timeout=10) == 0
    assert events(log) == ["start a", "end a", "start c", "end c"]


@pytest.mark.timeout(30)
def test_wait_timeout_gives_up_and_leaves_no_ticket(tmp_path: Path) -> None:
    log = tmp_path / "log"
    holder = contender(tmp_path / "slot", "holder", 5, log)
    wait_for(lambda: events(log) == ["start holder"])
    turn = turns.queue_up(tmp_path / "slot", {"pid": os.getpid()})
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="wait-timeout"):
        turn.wait(0.3)
    turn.release()
    assert time.monotonic() - started < 4
    assert [t["argv"] for t in turns.live_tickets(tmp_path / "slot")] == [["holder"]]
    holder.send_signal(signal.SIGKILL)
    holder.wait()


def test_no_wait_is_silent(tmp_path: Path) -> None:
    announced: list[object] = []
    turn = turns.queue_up(tmp_path / "slot", {"pid": os.getpid()})
    turn.wait(None, on_wait=announced.append)
    turn.release()
    assert announced == []


@pytest.mark.timeout(30)
def test_wait_is_announced_once_with_position(tmp_path: Path) -> None:
    log = tmp_path / "log"
    holder = contender(tmp_path / "slot", "holder", 0.5, log)
    wait_for(lambda: events(log) == ["start holder"])
    positions: list[tuple[int, int]] = []
    turn = turns.queue_up(tmp_path / "slot", {"pid": os.getpid()})
    turn.wait(None, on_wait=lambda t: positions.append(t.queue_position()))
    turn.release()
    holder.wait(timeout=10)
    assert positions == [(1, 1)]


@pytest.mark.timeout(30)
def test_a_dead_holders_ticket_is_no_wait(tmp_path: Path) -> None:
    """Regression: the ticket a SIGKILLed holder leaves behind was announced as a wait."""
    log = tmp_path / "log"
    holder = contender(tmp_path / "slot", "holder", 60, log)
    wait_for(lambda: events(log) == ["start holder"])
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    announced: list[object] = []
    turn = turns.queue_up(tmp_path / "slot", {"pid": os.getpid()})
    turn.wait(None, on_wait=announced.append)
    turn.release()
    assert announced == []
    assert turns.live_tickets(tmp_path / "slot") == []
