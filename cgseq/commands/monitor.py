"""``cgseq monitor [--once] [--interval DUR] [--all] [--count N]``: the queue, live.

On a terminal: the curses view (:mod:`cgseq.monitor.screen`), redrawn every interval.
``--once``: one plain frame. Into a pipe or a file (or with ``--count``): a plain frame
every interval, a blank line between frames, until ^C (exit 0) or ``--count`` frames.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

from cgseq import units
from cgseq.errors import UsageError
from cgseq.monitor import data, frame

DEFAULT_INTERVAL = 1.0
MIN_INTERVAL = 0.1  # each frame reads the queue, /proc and the history
PLAIN_HEIGHT = 1 << 20  # a plain frame is not cut at the bottom: a pipe has no height


def monitor_command(*, once: bool, interval: str | None, every: bool, count: str | None) -> int:
    if once and (interval is not None or count is not None):  # honoured or refused, never dropped
        raise UsageError("--once prints one frame: --interval and --count do not apply")
    cwd = None if every else os.getcwd()
    period = units.parse_interval(interval, DEFAULT_INTERVAL, MIN_INTERVAL)
    frames = units.parse_limit(count, "--count")
    try:
        if once:
            _print_frame(cwd)
        elif frames is None and sys.stdout.isatty() and sys.stdin.isatty():
            _live(cwd, period)
        else:
            _plain(cwd, period, frames)
    except KeyboardInterrupt:  # ^C is how one leaves a monitor: not an error
        pass
    return 0


def _live(cwd: str | None, period: float) -> None:
    from cgseq.monitor import screen

    try:
        screen.run(cwd, period)
    except screen.Error as exc:  # e.g. TERM names no terminal curses knows
        print(f"cgseq: warning: no live view on this terminal ({exc}); plain frames", flush=True)
        _plain(cwd, period, None)


def _plain(cwd: str | None, period: float, frames: int | None) -> None:
    shown = 0
    while frames is None or shown < frames:
        if shown:
            time.sleep(period)
            print()
        _print_frame(cwd)
        shown += 1


def _print_frame(cwd: str | None) -> None:
    width = shutil.get_terminal_size((80, 24)).columns
    lines = frame.render(data.gather(cwd), width, PLAIN_HEIGHT)
    print("\n".join(lines), flush=True)
