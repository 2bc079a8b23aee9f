"""cgseq's own event log: structlog, JSON lines, in the state dir (never the terminal
unless ``--verbose``). Imported only after the job, so a queued waiter never pays for it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

LOG_NAME = "events.log"
LOG_MAX_BYTES = 4 << 20


def log_event(state: Path, event: str, *, verbose: bool = False, **fields: Any) -> None:
    import structlog

    path = state / LOG_NAME
    _rotate(path)
    with path.open("a") as handle:
        logger = structlog.wrap_logger(
            structlog.WriteLogger(handle),
            processors=[
                structlog.processors.TimeStamper(fmt="iso"),
                structlog.processors.JSONRenderer(),
            ],
        )
        logger.info(event, **fields)
    if verbose:
        console = structlog.wrap_logger(
            structlog.PrintLogger(sys.stderr),
            processors=[
                structlog.processors.TimeStamper(fmt="%H:%M:%S"),
                structlog.dev.ConsoleRenderer(colors=False),
            ],
        )
        console.info(event, **fields)


def _rotate(path: Path) -> None:
    try:
        if path.stat().st_size > LOG_MAX_BYTES:
            path.replace(path.with_suffix(".log.1"))
    except FileNotFoundError:
        pass
