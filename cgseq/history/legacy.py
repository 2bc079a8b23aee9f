"""The one-time import of ``history.jsonl``, the history cgseq kept before SQLite.

It is schema migration 2 (:mod:`cgseq.history.schema`): it runs once per database, in the
migration's write transaction, so two processes racing to open a new database import it
once. The file stays where it is (the runtime state dir, which cgseq may still append to);
``meta`` says what was imported. Each line is one ``JobResult.to_json()``; a line that is
not one (torn, foreign) is skipped. Such a line has no start time: ``started`` is NULL.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from cgseq.errors import CgseqError


def jsonl_path() -> Path | None:
    """Where the old history is: the runtime state dir; None when that is unusable."""
    from cgseq.queue import layout

    try:
        return layout.history_file()
    except CgseqError:
        return None


def import_jsonl(db: sqlite3.Connection, path: Path | None) -> int:
    """Add each job of the file at ``path`` to ``db`` (inside the caller's transaction);
    returns how many; what happened is noted in ``meta`` under ``legacy_import``."""
    content = _read(path)
    if content is None:
        _note(db, f"nothing to import from {path}")
        return 0
    recorded = time.time()
    added = 0
    for line in content.splitlines():
        row = _row(line, recorded)
        if row is not None:
            added += _insert(db, row)
    _note(db, f"{added} jobs imported from {path}")
    return added


def _read(path: Path | None) -> bytes | None:
    from cgseq import safefs

    if path is None:
        return None
    try:
        return safefs.read(path)  # never through a symlink
    except CgseqError:
        return None


def _row(line: bytes, recorded: float) -> dict[str, Any] | None:
    from cgseq.history.rows import legacy_row

    try:
        data = json.loads(line)
    except ValueError:
        return None
    return legacy_row(data, recorded) if isinstance(data, dict) else None


def _insert(db: sqlite3.Connection, row: dict[str, Any]) -> int:
    names = ", ".join(row)
    marks = ", ".join(f":{name}" for name in row)
    cursor = db.execute(f"INSERT OR IGNORE INTO jobs ({names}) VALUES ({marks})", row)
    return cursor.rowcount


def _note(db: sqlite3.Connection, what: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('legacy_import', ?)", (what,))
