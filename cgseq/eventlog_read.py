"""Reading cgseq's own event log back (``cgseq logs``): the events of one job, or the last ones.

The log is JSON lines (:mod:`cgseq.eventlog`), ``events.log`` and the one rotated aside,
``events.log.1``, oldest first. Both are read without following a symlink
(:func:`cgseq.safefs.read`) and are bounded by the rotation (a few MiB). A line that is not
a JSON object (a torn write, a hand edit) is skipped, not a failure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cgseq import safefs


def events(job_id: str | None = None, count: int | None = None) -> list[dict[str, Any]]:
    """The last ``count`` events (None: all), oldest first; only ``job_id``'s if given."""
    found = [event for event in _all() if job_id is None or event.get("job_id") == job_id]
    return found[-count:] if count is not None else found


def _all() -> list[dict[str, Any]]:
    from cgseq.queue import layout

    current = layout.events_file()
    return [*_read(current.with_suffix(".log.1")), *_read(current)]


def _read(path: Path) -> list[dict[str, Any]]:
    data = safefs.read(path)
    if not data:
        return []
    return [event for line in data.splitlines() if (event := _event(line)) is not None]


def _event(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "event" in value else None
