"""The line a waiting ``cgseq run`` shows: its place, who holds the turn, for how long.

On a terminal it is redrawn in place once a second; in a pipe or CI log it is printed once,
and again only when the job holding the turn changes. The redraw runs in a thread while the
main thread blocks in the kernel on its lock; it only reads the queue.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cgseq.units import format_duration

if TYPE_CHECKING:
    import threading

    from cgseq.queue.turns import Turn

REDRAW = 1.0  # seconds


class WaitLine:
    """``start(turn)`` when the wait really begins, ``stop()`` when it ends (however)."""

    def __init__(self) -> None:
        self.tty = _is_tty()
        self._stop: threading.Event | None = None
        self._lock: threading.Lock | None = None
        self._drawn = False

    def start(self, turn: Turn) -> None:
        import threading

        text, ahead = describe(turn)
        self._show(text)
        self._lock, stop = threading.Lock(), threading.Event()
        threading.Thread(target=self._follow, args=(turn, ahead, stop), daemon=True).start()
        self._stop = stop  # only once started: a signal may end the wait at any point

    def stop(self) -> None:
        """Not joined: the turn is what matters now. Under the lock, so that the redraw
        thread, which checks ``_stop`` under it, never draws once this returns."""
        if self._stop is None or self._lock is None:
            return
        with self._lock:
            self._stop.set()
            if self.tty and self._drawn:
                _write("\n")  # what follows starts on a line of its own

    def _follow(self, turn: Turn, ahead: object, stop: threading.Event) -> None:
        while not stop.wait(REDRAW):
            try:
                text, now_ahead = describe(turn)
            except Exception:  # the queue changed under us (a ticket went): try again
                continue
            if self.tty or now_ahead != ahead:
                assert self._lock is not None
                with self._lock:
                    if stop.is_set():
                        return
                    self._show(text)
                ahead = now_ahead

    def _show(self, text: str) -> None:
        line = f"cgseq: {text}".replace("\r", "\\r").replace("\n", "\\n")
        if self.tty:
            _write(f"\r\x1b[K{line}")
            self._drawn = True
        else:
            _write(line + "\n")


def describe(turn: Turn) -> tuple[str, object]:
    """The line, and who holds the turn (to see when that changes)."""
    place, total = turn.queue_position()
    holder = turn.read_holder()
    if holder is not None and holder.problem is None:
        running = _job(holder.argv, holder.job_pid or holder.pid, holder.since)
        ahead: object = ("holder", holder.job_id, holder.pid)
    else:
        first = turn.first_in_line()
        running = _job(first.argv, first.pid, first.since) if first else "another job"
        ahead = ("first", first.key if first else None)
    return f"waiting for turn — running: {running}; you are {_ordinal(place)} of {total}", ahead


def _job(argv: Sequence[str] | None, pid: int | None, since: float | None) -> str:
    command = display(argv or ()) or "?"
    elapsed = format_duration(max(0.0, time.time() - (since or time.time())))
    return f"{short(command)} (pid {pid}, {elapsed})"


def display(argv: Sequence[str]) -> str:
    """``python3 tests/x.py`` rather than ``/root/.pyenv/.../bin/python3 tests/x.py``."""
    import shlex  # only once a waiter draws its line

    return shlex.join([os.path.basename(argv[0]), *argv[1:]]) if argv else ""


def short(command: str, width: int = 60) -> str:
    return command if len(command) <= width else command[: width - 1] + "…"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _is_tty() -> bool:
    try:
        return os.isatty(sys.stderr.fileno())
    except (OSError, ValueError):
        return False


def _write(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
