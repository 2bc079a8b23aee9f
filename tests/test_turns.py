"""The turn queue itself, with real processes competing for one slot directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cgseq.errors import WaitTimeout
from cgseq.queue import turns
from cgseq.queue.records import TicketRecord
from tests.support import wait_until, with_repo_on_path

CONTENDER = """
import os, sys, time
from pathlib import Path
from cgseq.queue import turns
from cgseq.queue.records import TicketRecord
slot, name, log, gate = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def note(what):
    with open(log, "a") as out:
        out.write(f"{what} {name}\\n")
info = TicketRecord(pid=os.getpid(), argv=(name,), since=time.time())
turn = turns.queue_up(slot, info, turns.process_start_ns())  # as the CLI does
turn.wait(None, on_wait=lambda _turn: note("waiting"))
note("start")
deadline = time.monotonic() + 60  # the gate: hold the turn until the test opens it
while gate != "-" and not os.path.exists(gate) and time.monotonic() < deadline:
    time.sleep(0.01)
note("end")
turn.release()
"""


def contender(
    slot: Path, name: str, log: Path, gate: Path | None = None
) -> subprocess.Popen[bytes]:
    """A process that queues for ``slot``; it holds its turn until ``gate`` exists (if given)."""
    argv = [sys.executable, "-c", CONTENDER, str(slot), name, str(log), str(gate or "-")]
    return subprocess.Popen(argv, env=with_repo_on_path())


def events(log: Path) -> list[str]:
    return log.read_text().split("\n")[:-1] if log.exists() else []


def turns_taken(log: Path) -> list[str]:
    """The log without the "waiting" lines: what ran, in order."""
    return [line for line in events(log) if not line.startswith("waiting ")]


def wait_logged(log: Path, line: str, proc: subprocess.Popen[bytes]) -> None:
    """Until ``line`` is in the log (e.g. "waiting b": b is queued, its place is fixed)."""
    wait_until(lambda: line in events(log) or proc.poll() is not None, 30, repr(line))
    assert line in events(log), f"{line!r} never logged (exit {proc.poll()}): {events(log)}"


@pytest.mark.timeout(120)
def test_thirty_contenders_run_one_at_a_time_in_arrival_order(tmp_path: Path) -> None:
    """The first holds a gate; each next one starts once the previous one waits."""
    log, gate, slot = tmp_path / "log", tmp_path / "gate", tmp_path / "slot"
    procs = [contender(slot, "00", log, gate)]
    wait_logged(log, "start 00", procs[0])
    for n in range(1, 30):
        procs.append(contender(slot, f"{n:02d}", log))
        wait_logged(log, f"waiting {n:02d}", procs[-1])
    gate.touch()
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    assert turns_taken(log) == [f"{kind} {n:02d}" for n in range(30) for kind in ("start", "end")]


@pytest.mark.timeout(30)
def test_sigkilled_holder_hands_over_at_once(tmp_path: Path) -> None:
    log, gate, slot = tmp_path / "log", tmp_path / "gate", tmp_path / "slot"
    holder = contender(slot, "holder", log, gate)  # never opened: only the SIGKILL ends it
    wait_logged(log, "start holder", holder)
    waiter = contender(slot, "waiter", log)
    wait_logged(log, "waiting waiter", waiter)
    assert turns_taken(log) == ["start holder"]
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert waiter.wait(timeout=10) == 0
    assert turns_taken(log) == ["start holder", "start waiter", "end waiter"]


@pytest.mark.timeout(30)
def test_sigkilled_waiter_leaves_the_queue_intact(tmp_path: Path) -> None:
    log, gate, slot = tmp_path / "log", tmp_path / "gate", tmp_path / "slot"
    first = contender(slot, "a", log, gate)
    wait_logged(log, "start a", first)
    doomed = contender(slot, "b", log)
    wait_logged(log, "waiting b", doomed)
    last = contender(slot, "c", log)
    wait_logged(log, "waiting c", last)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    gate.touch()
    assert first.wait(timeout=10) == 0 and last.wait(timeout=10) == 0
    assert turns_taken(log) == ["start a", "end a", "start c", "end c"]


@pytest.mark.timeout(30)
def test_wait_timeout_gives_up_and_leaves_no_ticket(tmp_path: Path) -> None:
    log, gate = tmp_path / "log", tmp_path / "gate"
    holder = contender(tmp_path / "slot", "holder", log, gate)  # holds until killed
    wait_logged(log, "start holder", holder)
    turn = turns.queue_up(tmp_path / "slot", TicketRecord(pid=os.getpid()))
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="wait-timeout"):
        turn.wait(0.3)
    turn.release()
    assert time.monotonic() - started < 20  # gave up, did not wait on
    assert [t.argv for t in turns.live_tickets(tmp_path / "slot")] == [("holder",)]
    holder.send_signal(signal.SIGKILL)
    holder.wait()


def test_no_wait_is_silent(tmp_path: Path) -> None:
    announced: list[object] = []
    turn = turns.queue_up(tmp_path / "slot", TicketRecord(pid=os.getpid()))
    turn.wait(None, on_wait=announced.append)
    turn.release()
    assert announced == []


@pytest.mark.timeout(30)
def test_wait_is_announced_once_with_position(tmp_path: Path) -> None:
    log, gate = tmp_path / "log", tmp_path / "gate"
    holder = contender(tmp_path / "slot", "holder", log, gate)
    wait_logged(log, "start holder", holder)
    positions: list[tuple[int, int]] = []

    def waiting(turn: turns.Turn) -> None:
        positions.append(turn.queue_position())
        gate.touch()  # only now may the holder let go: the wait is certain

    turn = turns.queue_up(tmp_path / "slot", TicketRecord(pid=os.getpid()))
    turn.wait(None, on_wait=waiting)
    turn.release()
    assert holder.wait(timeout=10) == 0
    assert positions == [(1, 1)]


@pytest.mark.timeout(30)
def test_a_dead_holders_ticket_is_no_wait(tmp_path: Path) -> None:
    """Regression: the ticket a SIGKILLed holder leaves behind was announced as a wait."""
    log, gate = tmp_path / "log", tmp_path / "gate"
    holder = contender(tmp_path / "slot", "holder", log, gate)
    wait_logged(log, "start holder", holder)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    announced: list[object] = []
    turn = turns.queue_up(tmp_path / "slot", TicketRecord(pid=os.getpid()))
    turn.wait(None, on_wait=announced.append)
    turn.release()
    assert announced == []
    assert turns.live_tickets(tmp_path / "slot") == []
