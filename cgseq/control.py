"""Steering the queue: take waiters out (``cgseq cancel``), stop running jobs (``cgseq kill``).

Only jobs cgseq started and the user owns are touched, and never a process found by name:
a target is a ticket in the user's own state dir, and its process is the one the kernel
says holds that ticket's lock (``/proc/locks``), pinned with a pidfd before it is checked
and signalled through it, so a pid reused meanwhile is never hit. The request is a note in
the queue plus a signal; the target acts on the signal only with its note, and then does
what a timeout does (kill) or leaves the queue (cancel) by itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from cgseq.errors import UsageError
from cgseq.queue import slots, turns
from cgseq.supervise.signals import CANCEL_REQUEST, KILL_REQUEST

ACT_TIMEOUT = 10.0  # seconds for a target to act on its request before we say so


class Target(NamedTuple):
    """One job of the queue: a waiter, or the holder running its job."""

    slot: str
    key: str  # its ticket
    pid: int  # the cgseq process that queued (the supervisor, once it holds the turn)
    job_id: str | None
    argv: tuple[str, ...]
    running: bool

    def matches(self, ident: str) -> bool:
        return ident in (self.job_id, str(self.pid), self.key)

    def describe(self) -> str:
        command = " ".join(self.argv) or "?"
        return f"{self.job_id or 'pid ' + str(self.pid)} ({command})"


def targets() -> Iterator[Target]:
    """Every job of the user's queue, in every slot: holders first, then waiters in order."""
    for view in slots.all_slots():
        running = view.running
        for ticket in view.tickets:
            holds = running is not None and ticket.pid == running.pid
            job_id = running.job_id if holds and running is not None else ticket.job_id
            if ticket.pid is not None:
                yield Target(view.key, ticket.key, ticket.pid, job_id, ticket.argv or (), holds)


def chosen(ident: str | None, every: bool, running: bool, here: str | None = None) -> list[Target]:
    """The targets ``ident`` names, or all of them, or (no ``ident``) those of slot ``here``."""
    if ident is not None and every:
        raise UsageError("give an id or --all, not both")
    if ident is None and not every and here is None:
        raise UsageError("name a waiting job by its id or pid (see 'cgseq status'), or give --all")
    found = [
        t
        for t in targets()
        if t.running == running
        and (every or (t.matches(ident) if ident is not None else t.slot == here))
    ]
    if not found and not every:
        what = "running job" if running else "waiting job"
        named = repr(ident) if ident is not None else "in this project"
        raise UsageError(f"no {what} {named} in your queue (see 'cgseq status --all')")
    return found


def request(target: Target, kind: str) -> str:
    """Send one request; the line that says what happened."""
    directory = slots.directory_of(target.slot)
    with _pinned(target.pid) as pidfd:
        if turns.owner(directory, target.key) != target.pid:
            return f"{target.describe()}: not in the queue any more; nothing sent"
        turns.leave_note(directory, kind, target.key, os.getpid())
        _send(target.pid, pidfd, KILL_REQUEST if kind == "kill" else CANCEL_REQUEST)
    if kind == "kill":
        return _kill_outcome(target, directory)
    return _cancel_outcome(target, directory)


def _kill_outcome(target: Target, directory: Path) -> str:
    """The supervisor stops its job as a timeout does, then hands the turn on: wait for
    that (its ticket's lock goes), for at most its kill grace and a margin."""
    holder = slots.holder_of(target.slot)
    grace = holder.limits.kill_grace if holder and holder.limits else 5.0
    deadline = time.monotonic() + grace + ACT_TIMEOUT
    while time.monotonic() < deadline:
        if turns.owner(directory, target.key) != target.pid:
            return f"{target.describe()}: stopped"
        time.sleep(0.01)
    return f"{target.describe()}: asked to stop; still ending after {grace + ACT_TIMEOUT:g}s"


def _cancel_outcome(target: Target, directory: Path) -> str:
    """A waiter takes its note when it leaves the queue; one that got its turn first never
    does. Polled (a command's one wait, bounded), then the note is withdrawn."""
    deadline = time.monotonic() + ACT_TIMEOUT
    while time.monotonic() < deadline:
        if not turns.note_pending(directory, "cancel", target.key):
            return f"{target.describe()}: cancelled"
        if slots.holder_pid(target.slot) == target.pid:
            break
        time.sleep(0.01)
    if turns.take_note(directory, "cancel", target.key) is None:
        return f"{target.describe()}: cancelled"  # it took the note just now
    return f"{target.describe()}: not cancelled: it got its turn first (use 'cgseq kill')"


@contextlib.contextmanager
def _pinned(pid: int) -> Iterator[int | None]:
    """A pidfd for ``pid`` (Linux >= 5.3): it names this very process, whatever comes later."""
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        yield pidfd
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _send(pid: int, pidfd: int | None, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        if pidfd is not None:
            signal.pidfd_send_signal(pidfd, signum)
        else:
            os.kill(pid, signum)


def act(found: list[Target], kind: str) -> tuple[list[str], int]:
    """Send ``kind`` to each target: a line for each, and 0 when each did as asked."""
    lines = [request(target, kind) for target in found]
    done = ": cancelled" if kind == "cancel" else ": stopped"
    return lines, 0 if all(line.endswith(done) for line in lines) else 1
