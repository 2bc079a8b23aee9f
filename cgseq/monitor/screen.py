"""The live view: a curses loop that redraws the frame every interval and acts on keys.

Keys: ``q`` quits; ``k`` stops the running job, ``c`` cancels the selected waiter (each asks
``? y/n`` first); the arrow keys (or ``n``/``p``) move the selection over the waiters. A
stop or cancel runs in a thread (:func:`cgseq.control.request` waits for the target to act,
up to its kill grace): the view keeps refreshing meanwhile and shows the outcome below.
"""

from __future__ import annotations

import contextlib
import curses
import threading
import time
from collections.abc import Callable
from typing import Any

from cgseq import control
from cgseq.monitor import data, frame

HELP = "q quit  k stop the job  c cancel the waiter  up/down (n/p) select"
DOWN = (curses.KEY_DOWN, ord("n"))
UP = (curses.KEY_UP, ord("p"))


Error = curses.error  # no live view on this terminal (e.g. a TERM curses does not know)


def run(cwd: str | None, interval: float) -> None:
    """Until ``q`` (or ^C, which the caller takes)."""
    curses.wrapper(lambda window: Screen(window, cwd, interval).loop())


class Screen:
    def __init__(self, window: Any, cwd: str | None, interval: float) -> None:
        self.window, self.cwd, self.interval = window, cwd, interval
        self.view: dict[str, Any] = {}
        self.selected: int | None = None
        self.question: tuple[str, str, Callable[[], str]] | None = None  # verb, whom, what
        self.message = ""
        self.footer = ""

    def loop(self) -> None:
        _hide_cursor()
        due = 0.0
        while True:
            if time.monotonic() >= due:
                self.view = data.gather(self.cwd)
                due = time.monotonic() + self.interval
            self._select(0)
            self.draw()
            self.window.timeout(max(10, int((due - time.monotonic()) * 1000)))
            key = self.window.getch()
            if key != -1 and not self.handle(key):
                return

    def draw(self) -> None:
        height, width = self.window.getmaxyx()
        self.window.erase()
        lines = frame.render(self.view, width, height - 1, self.selected)
        footer = _ask(*self.question[:2], width - 1) if self.question else (self.message or HELP)
        for row, line in enumerate([*lines, *[""] * (height - 1 - len(lines))]):
            _put(self.window, row, line, width)
        _put(self.window, height - 1, frame.render_line(footer, width - 1), width)
        if footer != self.footer:  # the whole line anew, not just the cells that differ:
            self.window.redrawln(height - 1, 1)  # a question reads whole in any recording
            self.footer = footer
        self.window.refresh()

    def handle(self, key: int) -> bool:
        """Act on one key; False to quit."""
        if self.question is not None:
            self._answer(key)
        elif key == ord("q"):
            return False
        elif key == ord("k"):
            self._ask_kill()
        elif key == ord("c"):
            self._ask_cancel()
        elif key in DOWN or key in UP:
            self._select(1 if key in DOWN else -1)
        return True

    def _answer(self, key: int) -> None:
        verb, whom, action = self.question or ("", "", lambda: "")
        self.question = None
        if key != ord("y"):
            self.message = "nothing done"
            return
        self.message = f"{verb} {whom}: asked"
        threading.Thread(target=self._act, args=(action,), daemon=True).start()

    def _act(self, action: Callable[[], str]) -> None:
        try:
            self.message = action()
        except Exception as exc:  # a refused request is a line to read, not a crash
            self.message = f"failed: {exc}"

    def _ask_kill(self) -> None:
        slot = self._current_slot()
        job = slot["running"] if slot is not None else None
        if slot is None or job is None:
            self.message = "no running job to stop"
            return
        found = _target(slot["slot"], job["supervisor_pid"], running=True)
        self.question = ("stop", frame.command(job["argv"]), lambda: _request(found, "kill"))

    def _ask_cancel(self) -> None:
        queue = frame.waiters(self.view)
        if self.selected is None or not queue:
            self.message = "no waiter to cancel"
            return
        slot, waiter = queue[self.selected]
        found = _target(slot["slot"], waiter["pid"], running=False)
        argv = frame.command(waiter["argv"])
        self.question = ("cancel", argv, lambda: _request(found, "cancel"))

    def _current_slot(self) -> dict[str, Any] | None:
        """The selected waiter's project, else the first with a running job."""
        queue = frame.waiters(self.view)
        if self.selected is not None and queue and queue[self.selected][0]["running"]:
            return queue[self.selected][0]
        return next((slot for slot in self.view.get("slots", []) if slot["running"]), None)

    def _select(self, step: int) -> None:
        count = len(frame.waiters(self.view))
        if not count:
            self.selected = None
            return
        self.selected = min(max((self.selected or 0) + step, 0), count - 1)


def _ask(verb: str, whom: str, width: int) -> str:
    """``stop python -m pytest? y/n``: the command is cut, never the question."""
    room = max(3, width - len(verb) - len("  ? y/n"))
    if len(whom) > room:
        whom = whom[: room - 3] + "..."
    return f"{verb} {whom}? y/n"


def _target(slot: str, pid: int | None, running: bool) -> control.Target | None:
    return next(
        (t for t in control.targets() if t.slot == slot and t.pid == pid and t.running == running),
        None,
    )


def _request(target: control.Target | None, kind: str) -> str:
    if target is None:
        return "not in the queue any more; nothing sent"
    return control.request(target, kind)


def _put(window: Any, row: int, line: str, width: int) -> None:
    with contextlib.suppress(curses.error):  # the bottom-right cell: curses cannot
        window.addnstr(row, 0, line, width)  # write it without scrolling, and says so


def _hide_cursor() -> None:
    with contextlib.suppress(curses.error):  # a terminal that cannot hide it
        curses.curs_set(0)
