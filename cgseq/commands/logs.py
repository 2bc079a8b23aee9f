"""``cgseq logs [ID] [-n N] [--json]``: cgseq's own events for job ID, or the last events.

One line per event: its time, its name, then its fields (``key=value``). ``--json`` prints
``{"version": 1, "events": [...]}``, each event as the log holds it.
"""

from __future__ import annotations

import json
from typing import Any

from cgseq import eventlog_read, units

JSON_VERSION = 1
DEFAULT_COUNT = 20
_SHOWN_FIRST = ("timestamp", "event", "level", "job_id")  # the rest follows as the log has it
VALUE_MAX = 200  # characters of one field on a line (a long argv); --json gives it whole


def logs_command(*, ident: str | None, count: str | None, as_json: bool) -> int:
    limit = DEFAULT_COUNT
    if count is not None:
        limit = units.parse_count(count, "-n", minimum=1, unlimited=False) or limit
    found = eventlog_read.events(ident, limit)
    if as_json:
        print(json.dumps({"version": JSON_VERSION, "events": found}, indent=2))
        return 0
    if not found:
        print(f"no events for job {ident}" if ident else "no events in cgseq's log")
    for event in found:
        print(_line(event))
    return 0


def _line(event: dict[str, Any]) -> str:
    fields = {"job_id": event.get("job_id")} | {
        key: value for key, value in event.items() if key not in _SHOWN_FIRST
    }
    fields = {key: value for key, value in fields.items() if value not in (None, "", [], {})}
    shown = "  ".join(f"{key}={_value(value)}" for key, value in fields.items())
    return f"{event.get('timestamp', '?')}  {event['event']}  {shown}".rstrip()


def _value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 3] + "..."
