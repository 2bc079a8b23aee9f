"""cgseq's own event log: JSON lines in the state dir (never the terminal unless
``--verbose``); ``cgseq logs`` reads it back.

Two writers: :func:`note` for the small events of a job's way through the queue (queued,
placed, limits, warnings, kill and cancel requests), which a waiter writes too, so only
``json`` and one append, and never a failure of the run; and :func:`log_event`, structlog,
for the finished job, after it has run.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any, TextIO

LOG_MAX_BYTES = 4 << 20


def note(event: str, **fields: Any) -> None:
    """One event line, cheaply; a log that cannot take it loses the line, never the run."""
    import json
    import time

    from cgseq import safefs
    from cgseq.errors import CgseqError
    from cgseq.queue import layout

    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    line = json.dumps({"event": event, "timestamp": stamp, **fields}, default=str) + "\n"
    try:
        path = layout.events_file()
        _rotate(path)
        safefs.append(path, line.encode())
    except (CgseqError, OSError):
        pass


def log_event(event: str, *, verbose: bool = False, **fields: Any) -> None:
    from cgseq.queue import layout

    try:
        _append(layout.events_file(), event, fields)
    finally:  # --verbose still shows the event when the log cannot take it
        if verbose:
            _echo(event, fields)


def _append(path: Path, event: str, fields: dict[str, Any]) -> None:
    import structlog

    _rotate(path)
    with _open_append(path) as handle:
        logger = structlog.wrap_logger(
            structlog.WriteLogger(handle),
            processors=[
                structlog.processors.TimeStamper(fmt="iso"),
                structlog.processors.JSONRenderer(),
            ],
        )
        logger.info(event, **fields)


def _echo(event: str, fields: dict[str, Any]) -> None:
    import structlog

    console = structlog.wrap_logger(
        structlog.PrintLogger(sys.stderr),
        processors=[
            structlog.processors.TimeStamper(fmt="%H:%M:%S"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
    )
    console.info(event, **fields)


def _open_append(path: Path) -> TextIO:
    """The log, appended to, never through a symlink (see cgseq.safefs)."""
    from cgseq import safefs

    return os.fdopen(safefs.open_append(path), "a")


def _rotate(path: Path) -> None:
    """Rename a large log aside: rename moves a link itself and follows none (lstat, too)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode) and info.st_size > LOG_MAX_BYTES:
        os.rename(path, path.with_suffix(".log.1"))
