"""Turns: a strict-FIFO queue in front of one single-slot lock per project.

Layout of a slot's directory (inside the private state dir)::

    queue.lock          held for a moment while a ticket number is drawn
    next                the next ticket number
    tickets/<asked>-<n> one per queued or running job; JSON about it; flock'ed by its owner
    slot.lock           the turn itself (a fasteners inter-process lock)
    holder.json         who holds the turn, with its backend's record (crash recovery)

Every file is written through :mod:`cgseq.safefs` (never through a symlink, new files under
unguessable names) and every directory is checked before cgseq descends into it.

A slot's directory is removed when its queue is empty (:func:`remove_if_idle`): only under
``queue.lock``, only with no ticket left (every holder and waiter keeps its ticket until it
releases) and no holder record, and ``queue.lock`` is unlinked last. Whoever then gets a
``queue.lock`` checks that the file it locked is still the one linked there, else starts over:
so two processes never hold two different ``queue.lock`` files of one slot at once.

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
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple

from cgseq import procfs, safefs
from cgseq.errors import StateDirError, WaitTimeout
from cgseq.queue import layout
from cgseq.queue.records import HolderRecord, TicketRecord


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
        self._holder_written = False
        self.waited = 0.0

    @property
    def holder_path(self) -> Path:
        return self.directory / HOLDER

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
        lock = _slot_lock(self.directory)
        if not lock.acquire(blocking=False):
            announce()  # a holder from before the queue existed, or one finishing up
            lock.acquire(blocking=True, delay=0.002, max_delay=0.05)
        self._slot = lock

    def release(self) -> None:
        """Give up the turn: the next ticket's owner wakes at once. Idempotent."""
        if self.ticket.fd < 0:
            return
        if self._holder_written:  # never another cgseq's record (see pipeline.recovery)
            clear_holder(self.directory)
        if self._slot is not None:
            self._slot.release()
            self._slot = None
        with contextlib.suppress(FileNotFoundError):
            self.ticket.path.unlink()
        os.close(self.ticket.fd)
        self.ticket = self.ticket._replace(fd=-1)
        remove_if_idle(self.directory)

    def write_holder(self, record: HolderRecord) -> None:
        """Record the holder. The first record must be written (it is what lets the next
        holder reap a job whose supervisor died), so its failure raises StateDirError; a
        later update that fails keeps the first, which still names the job."""
        try:
            safefs.write_atomic(self.holder_path, record.to_json())
        except StateDirError:
            if not self._holder_written:
                raise
            return
        self._holder_written = True

    def read_holder(self) -> HolderRecord | None:
        return read_holder(self.directory)

    def clear_holder(self) -> None:
        """Remove the holder record (a dead holder's, once its job is reaped)."""
        clear_holder(self.directory)

    def take_note(self, kind: str) -> int | None:
        """The pid that asked to ``kind`` ("cancel", "kill") this job, its note removed."""
        return take_note(self.directory, kind, self.ticket.key)

    def first_in_line(self) -> TicketRecord | None:
        """The first live ticket, when it is not this one (for "waiting for ..." lines)."""
        queue = live_tickets(self.directory)
        return queue[0] if queue and queue[0].key != self.ticket.key else None

    def queue_position(self) -> tuple[int, int]:
        """(my place among live waiters, live waiters in all), counting from 1."""
        live = [p for p in _tickets(self.directory) if p == self.ticket.path or is_live(p)]
        waiting = live[1:] if live and live[0] != self.ticket.path else live
        place = waiting.index(self.ticket.path) + 1 if self.ticket.path in waiting else 1
        return place, len(waiting)


def slot_taken(directory: Path) -> bool:
    """Does someone hold the slot's lock (a holder, maybe one not recorded yet)?"""
    try:
        lock = _slot_lock(directory, create=False)
    except FileNotFoundError:
        return False
    if not lock.acquire(blocking=False):
        return True
    lock.release()
    return False


def _slot_lock(directory: Path, create: bool = True) -> Any:
    """The slot's fasteners lock on a file cgseq opened itself, never through a symlink.

    fasteners would ``open(path, "a")``, which follows a planted link (and creates its
    target); handing it our O_NOFOLLOW fd keeps its locking and drops that open. Imported
    only here (or by :func:`warm_up`): a waiter blocked further back never pays for it.
    """
    import fasteners

    fd = safefs.open_lock(directory / "slot.lock", create=create)
    lock = fasteners.InterProcessLock(str(directory / "slot.lock"))
    lock.lockfile = os.fdopen(fd, "a")
    return lock


def warm_up() -> None:
    """Import what taking the slot needs, ahead of time (the waiter next in line)."""
    import fasteners  # noqa: F401


def queue_up_in(key: str, info: TicketRecord, asked: int | None = None) -> Turn:
    """:func:`queue_up` in the slot named ``key`` of the state dir."""
    return queue_up(layout.slot_dir(key), info, asked)


def queue_up(directory: Path, info: TicketRecord, asked: int | None = None) -> Turn:
    """Draw the next ticket and publish it locked.

    ``asked``: when the job asked for its turn (``process_start_ns()`` for a fresh CLI
    process); default now, so a long-lived library caller queues in call order.
    """
    for _ in range(_QUEUE_TRIES):
        guard = _lock_queue(directory)
        if guard is None:
            continue  # the slot's directory was being removed: start over from the mkdir
        try:
            return Turn(directory, _draw_ticket(directory, info, asked))
        except BaseException:
            _remove_locked(directory)  # leave nothing behind (e.g. a full filesystem)
            raise
        finally:
            os.close(guard)
    raise StateDirError(
        f"cannot queue in {directory}: it kept disappearing ({_QUEUE_TRIES} tries)",
        hint="is another program removing files in the state dir?",
    )


_QUEUE_TRIES = 100  # each retry means another process removed the slot meanwhile


def _lock_queue(directory: Path) -> int | None:
    """The flock'ed fd of the slot's live ``queue.lock``; None if it was removed meanwhile."""
    try:
        safefs.ensure_dir(directory.parent)
        safefs.ensure_dir(directory)
        fd = safefs.open_lock(directory / "queue.lock")
    except FileNotFoundError:
        return None
    fcntl.flock(fd, fcntl.LOCK_EX)  # held by others only to draw a number or to remove
    if _still_linked(fd, directory / "queue.lock"):
        return fd
    os.close(fd)  # we waited on a file a remover has unlinked: a newcomer may hold the new one
    return None


def _still_linked(fd: int, path: Path) -> bool:
    opened = os.fstat(fd)
    try:
        linked = os.lstat(path)
    except FileNotFoundError:
        return False
    return opened.st_nlink > 0 and (linked.st_dev, linked.st_ino) == (
        opened.st_dev,
        opened.st_ino,
    )


def _draw_ticket(directory: Path, info: TicketRecord, asked: int | None) -> Ticket:
    """Under the slot's ``queue.lock``: the next number, then the ticket, published locked."""
    tickets = safefs.ensure_dir(directory / "tickets")
    number = _draw_number(directory / "next")
    when = asked if asked is not None else time.clock_gettime_ns(_CLOCK)
    return _publish(tickets, f"{when:020d}-{number:012d}", info)


def _draw_number(counter: Path) -> int:
    try:
        number = int(safefs.read(counter) or b"1")
    except ValueError:
        number = 1
    safefs.write_atomic(counter, str(number + 1).encode())
    return number


def remove_if_idle(directory: Path) -> bool:
    """Remove a slot's directory whose queue is empty (see the module docstring). Best effort:
    a slot in use, or anything unexpected in it, is left alone; never raises."""
    try:
        guard = safefs.open_lock(directory / "queue.lock", create=False)
    except (OSError, StateDirError):
        return False
    try:
        fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(guard)
        return False  # someone is drawing a ticket: the slot is in use anyway
    try:
        return _still_linked(guard, directory / "queue.lock") and _remove_locked(directory)
    finally:
        os.close(guard)


HOLDER = "holder.json"
TICKETS = "tickets"
_SLOT_FILES = ("slot.lock", "next")


def _remove_locked(directory: Path) -> bool:
    """With ``queue.lock`` held: remove the directory if no ticket and no holder record is left."""
    try:
        if not _idle(directory):
            return False
        for name in _SLOT_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(directory / name)
        os.rmdir(directory / "tickets")
        os.unlink(directory / "queue.lock")  # last: a queue_up() blocked on it starts over
        os.rmdir(directory)  # fails if a newcomer already made a new queue.lock: fine
    except (OSError, StateDirError):
        return False
    return True


def _idle(directory: Path) -> bool:
    """Only our own files, no live ticket, no holder record (a dead holder's must be reaped).

    Dot files are temporaries: ours are made under ``queue.lock`` or by a ticket's owner, so
    with the lock held and no ticket left they belong to dead processes.
    """
    entries = list(os.scandir(directory))
    temporaries = [e for e in entries if e.name.startswith(".")]
    for entry in entries:
        if entry.name == "tickets" and entry.is_dir(follow_symlinks=False):
            if not _no_tickets(Path(entry.path)):
                return False
        elif entry in temporaries and not entry.is_dir(follow_symlinks=False):
            continue
        elif entry.name not in (*_SLOT_FILES, "queue.lock") or entry.is_symlink():
            return False  # holder.json, a planted link, something else: keep it for a human
    for entry in temporaries:  # only now: no ticket is left, so their writers are dead
        os.unlink(entry.path)
    return True


def _no_tickets(tickets: Path) -> bool:
    for entry in os.scandir(tickets):
        if entry.name.startswith(".") and not entry.is_dir(follow_symlinks=False):
            os.unlink(entry.path)  # a publisher that died before its rename
        elif entry.is_symlink() or not entry.is_file() or is_live(Path(entry.path)):
            return False
    return True


def process_start_ns() -> int:
    """When the kernel started this process, on the clock tickets are keyed by.

    For the CLI, whose process exists only to ask for a turn. Falls back to now where the
    start time is not known (not Linux) or not recent (a reused long-lived process).
    """
    now = time.clock_gettime_ns(_CLOCK)
    started = procfs.started_ns("self")  # None without CLOCK_BOOTTIME or /proc
    if started is None:
        return now
    return started if 0 <= now - started < _RECENT_NS else now


_CLOCK = procfs.BOOT_CLOCK if procfs.BOOT_CLOCK is not None else time.CLOCK_MONOTONIC
_RECENT_NS = 2_000_000_000


def _publish(tickets: Path, key: str, info: TicketRecord) -> Ticket:
    final = tickets / key
    fd, temporary = safefs.create_unique(final)  # a dot name: not a ticket until renamed
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # locked before anyone can see it
        safefs.write_all(fd, info.to_json())
        os.rename(temporary, final)
    except BaseException as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise safefs.failure(exc, final, "write") from exc
        raise
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
        fd = safefs.open_lock(path, create=False)
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
        if os.lstat(path).st_ino == os.fstat(fd).st_ino:
            path.unlink()


def is_live(path: Path) -> bool:
    """Is the ticket's owner alive? A dead owner's ticket is removed on the way."""
    try:
        fd = safefs.open_lock(path, create=False)
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


def live_tickets(directory: Path) -> list[TicketRecord]:
    """The queue as ``cgseq status`` shows it: holder first, then waiters in order.

    A live ticket whose record cannot be read is still in the queue: it comes with its
    ``problem`` rather than being left out.
    """
    result = []
    for path in _tickets(directory):
        raw = _read(path)
        if raw is not None and is_live(path):
            result.append(TicketRecord.from_json(raw, key=path.name))
    return result


def read_holder(directory: Path) -> HolderRecord | None:
    """The slot's holder record; None when there is none (or it is a link, not a file)."""
    raw = _read(directory / HOLDER)
    return HolderRecord.from_json(raw) if raw is not None else None


def owner(directory: Path, key: str) -> int | None:
    """The pid that holds ticket ``key``'s lock now, as the kernel says (``/proc/locks``).

    A ticket's record names a pid, but a record is data: only the lock's holder is certainly
    the process that queued. Where there is no ``/proc/locks``, the record's pid of a ticket
    that is locked (live) is the best there is.
    """
    path = directory / TICKETS / key
    try:
        fd = safefs.open_lock(path, create=False)
    except (FileNotFoundError, StateDirError):
        return None
    try:
        holders = procfs.lock_holders(fd)
    finally:
        os.close(fd)
    if holders is None:
        raw = _read(path)
        pid = TicketRecord.from_json(raw).pid if raw is not None and is_live(path) else None
        return pid
    return holders.pop() if len(holders) == 1 else None


def leave_note(directory: Path, kind: str, key: str, by: int) -> None:
    """Ask the owner of ticket ``key`` to ``kind``: a note it reads when it gets the signal.

    A dot file of the slot: the slot's temporaries, removed with the slot once it is idle.
    """
    safefs.write_atomic(directory / f".{kind}.{key}", str(by).encode())


def note_pending(directory: Path, kind: str, key: str) -> bool:
    return os.path.lexists(directory / f".{kind}.{key}")


def take_note(directory: Path, kind: str, key: str) -> int | None:
    path = directory / f".{kind}.{key}"
    try:
        raw = safefs.read(path)
    except StateDirError:
        return None
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def clear_holder(directory: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(directory / HOLDER)


def _read(path: Path) -> bytes | None:
    try:
        return safefs.read(path)
    except StateDirError:
        return None


_HELD_BACK = {signal.SIGALRM, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1}


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
