"""Turns: a strict-FIFO queue in front of one single-slot lock per project.

Layout of a slot's directory (inside the private state dir)::

    queue.lock          held for a moment while a ticket number is drawn
    next                the next ticket number
    tickets/<asked>-<n> one per queued or running job; JSON about it; flock'ed by its owner
    slot.lock           the turn itself (a fasteners inter-process lock)
    holder.json         who holds the turn, with its backend's record (crash recovery)

A waiter blocks in the kernel (``flock``) on the ticket of its nearest live predecessor,
so it costs nothing while it waits and wakes the moment that predecessor finishes or
dies (the kernel drops a dead process's locks: no stale state). Waking on a dead
predecessor, it removes that ticket and waits on the next one before it; with none left
it takes the slot lock. Tickets are locked before they are published (rename), so
every visible ticket is either live and locked or dead and unlockable.

Order is the order jobs *asked*: a ticket is keyed by the moment the kernel started the
cgseq process (not when Python finished starting up, whose jitter on a busy machine
exceeds the gap between two jobs fired 50 ms apart), with the draw number breaking ties.
A waiter re-scans after every wake-up, so a ticket that lands in front of it is honoured.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple

from cgseq.errors import WaitTimeout


class Ticket(NamedTuple):
    key: str
    path: Path
    fd: int


class Turn:
    """Exclusive use of one slot: create with :func:`queue_up`, then :meth:`wait`."""

    def __init__(self, directory: Path, ticket: Ticket) -> None:
        self.directory = directory
        self.ticket = ticket
        self._slot: Any = None  # fasteners.InterProcessLock once held
        self.waited = 0.0

    @property
    def holder_path(self) -> Path:
        return self.directory / "holder.json"

    def wait(
        self,
        timeout: float | None,
        on_wait: Any = None,
        on_next: Callable[[], None] | None = None,
    ) -> float:
        """Block until this ticket has the turn; return the seconds waited.

        ``on_wait(turn)`` is called once, only if there really is a wait. ``on_next()`` is
        called once when this ticket is next in line (only the holder is ahead), before it
        blocks: the time to get ready, so that the hand-off costs next to nothing.
        """
        started = time.monotonic()
        announced = False

        def announce() -> None:
            nonlocal announced
            if not announced and on_wait is not None:
                on_wait(self)
            announced = True

        with _deadline(timeout):
            for predecessor, is_first in self._predecessors():
                if is_first and on_next is not None and is_live(predecessor):
                    _uninterrupted(on_next)  # a wait-timeout strikes after, not midway
                    on_next = None
                _await_release(predecessor, announce)
            self._take_slot(announce)
        self.waited = time.monotonic() - started
        return self.waited

    def _predecessors(self) -> Iterator[tuple[Path, bool]]:
        """The nearest earlier ticket (and whether it is the first), until none is left."""
        while True:
            earlier = [p for p in _tickets(self.directory) if p.name < self.ticket.key]
            if not earlier:
                return
            yield earlier[-1], len(earlier) == 1

    def _take_slot(self, announce: Callable[[], None]) -> None:
        # fasteners is imported only now (or by warm_up() when next in line): a waiter
        # blocked further back never pays for it
        import fasteners

        lock = fasteners.InterProcessLock(str(self.directory / "slot.lock"))
        if not lock.acquire(blocking=False):
            announce()  # a holder from before the queue existed, or one finishing up
            lock.acquire(blocking=True, delay=0.002, max_delay=0.05)
        self._slot = lock

    def release(self) -> None:
        """Give up the turn: the next ticket's owner wakes at once. Idempotent."""
        if self.ticket.fd < 0:
            return
        with contextlib.suppress(FileNotFoundError):
            self.holder_path.unlink()
        if self._slot is not None:
            self._slot.release()
            self._slot = None
        with contextlib.suppress(FileNotFoundError):
            self.ticket.path.unlink()
        os.close(self.ticket.fd)
        self.ticket = self.ticket._replace(fd=-1)

    def write_holder(self, record: dict[str, Any]) -> None:
        _write_json_atomic(self.holder_path, record)

    def read_holder(self) -> dict[str, Any] | None:
        return read_json(self.holder_path)

    def queue_position(self) -> tuple[int, int]:
        """(my place among live waiters, live waiters in all), counting from 1."""
        live = [p for p in _tickets(self.directory) if p == self.ticket.path or is_live(p)]
        waiting = live[1:] if live and live[0] != self.ticket.path else live
        place = waiting.index(self.ticket.path) + 1 if self.ticket.path in waiting else 1
        return place, len(waiting)


def slot_taken(directory: Path) -> bool:
    """Does someone hold the slot's lock (a holder, maybe one not recorded yet)?"""
    import fasteners

    lock = fasteners.InterProcessLock(str(directory / "slot.lock"))
    if not lock.acquire(blocking=False):
        return True
    lock.release()
    return False


def warm_up() -> None:
    """Import what taking the slot needs, ahead of time (the waiter next in line)."""
    import fasteners  # noqa: F401


def queue_up(directory: Path, info: dict[str, Any], asked: int | None = None) -> Turn:
    """Draw the next ticket and publish it locked.

    ``asked``: when the job asked for its turn (``process_start_ns()`` for a fresh CLI
    process); default now, so a long-lived library caller queues in call order.
    """
    tickets = directory / "tickets"
    tickets.mkdir(parents=True, exist_ok=True)
    guard = os.open(directory / "queue.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(guard, fcntl.LOCK_EX)
        number = _draw_number(directory / "next")
        when = asked if asked is not None else time.clock_gettime_ns(_CLOCK)
        ticket = _publish(tickets, f"{when:020d}-{number:012d}", info)
    finally:
        os.close(guard)
    return Turn(directory, ticket)


def _draw_number(counter: Path) -> int:
    try:
        number = int(counter.read_text() or "1")
    except (FileNotFoundError, ValueError):
        number = 1
    counter.write_text(str(number + 1))
    return number


def process_start_ns() -> int:
    """When the kernel started this process, on the clock tickets are keyed by.

    For the CLI, whose process exists only to ask for a turn. Falls back to now where the
    start time is not known (not Linux) or not recent (a reused long-lived process).
    """
    now = time.clock_gettime_ns(_CLOCK)
    if getattr(time, "CLOCK_BOOTTIME", None) != _CLOCK:
        return now
    try:
        stat = Path("/proc/self/stat").read_text()
    except OSError:
        return now
    ticks = int(stat.rpartition(")")[2].split()[19])  # field 22: starttime
    started = ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    return started if 0 <= now - started < _RECENT_NS else now


_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
_RECENT_NS = 2_000_000_000


def _publish(tickets: Path, key: str, info: dict[str, Any]) -> Ticket:
    final = tickets / key
    temporary = tickets / f".new-{os.getpid()}-{key}"
    fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # locked before anyone can see it
    os.write(fd, json.dumps(info).encode())
    os.rename(temporary, final)
    return Ticket(key, final, fd)


def _tickets(directory: Path) -> list[Path]:
    try:
        names = os.listdir(directory / "tickets")
    except FileNotFoundError:
        return []
    return [directory / "tickets" / n for n in sorted(names) if not n.startswith(".")]


def _await_release(path: Path, announce: Callable[[], None]) -> None:
    """Block until the ticket's owner is done or dead, then clear the ticket away.

    A dead owner's ticket is taken at once, silently; only a live one is announced.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            announce()
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks in the kernel; a dead owner's lock is gone
        _unlink_if_same(path, fd)
    finally:
        os.close(fd)


def _unlink_if_same(path: Path, fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            path.unlink()


def is_live(path: Path) -> bool:
    """Is the ticket's owner alive? A dead owner's ticket is removed on the way."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        _unlink_if_same(path, fd)
        return False
    finally:
        os.close(fd)


def live_tickets(directory: Path) -> list[dict[str, Any]]:
    """The queue as ``cgseq status`` shows it: holder first, then waiters in order."""
    result = []
    for path in _tickets(directory):
        info = read_json(path)
        if info is not None and is_live(path):
            result.append(info | {"ticket": path.name})
    return result


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


_HELD_BACK = {signal.SIGALRM, signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def _uninterrupted(step: Callable[[], None]) -> None:
    """Run ``step`` with the wait-timeout alarm and stop signals held back until it is done:
    they then unwind a consistent state (a prepared job is cleaned up, never half-made)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_BACK)
    try:
        step()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def _deadline(timeout: float | None) -> Iterator[None]:
    """Interrupt a blocking wait after ``timeout`` seconds with WaitTimeout."""
    if timeout is None:
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise WaitTimeout(f"no turn within --wait-timeout {timeout:g}s; the job did not run")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
