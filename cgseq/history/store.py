"""The history database: open it safely, add a finished job, keep it bounded.

Every connection: WAL (readers never block the writer, and a commit does not fsync),
``synchronous=NORMAL`` (a power cut may lose the last records, never corrupt the file),
a busy timeout, and autocommit with explicit ``BEGIN IMMEDIATE`` for writes, so a writer
takes the write lock before it reads and never fails on a stale snapshot. Every
``sqlite3.Error`` or ``OSError`` becomes one :class:`~cgseq.history.HistoryError` naming
the database and, where it helps, the fix.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from cgseq.history import BUSY_TIMEOUT, HistoryError, paths, schema
from cgseq.history.rows import Extras, row_of
from cgseq.result import JobResult

__all__ = ["PRUNE_EVERY", "Extras", "Retention", "opened", "prune", "record", "retention_for"]

_NO_CHECKPOINT_ON_CLOSE = getattr(sqlite3, "SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE", 1010)
PRUNE_EVERY = 32  # records between two prunes under the settings' retention


class Retention(NamedTuple):
    """How much history to keep; None: no bound of that kind."""

    max_rows: int | None = 10000
    max_age: float | None = 90 * 86400.0  # seconds since a job was recorded


@contextlib.contextmanager
def opened(
    path: Path | None = None, busy_timeout: float = BUSY_TIMEOUT
) -> Iterator[sqlite3.Connection]:
    """The migrated database (created if missing). Any failure, also in the ``with`` body,
    is one HistoryError."""
    with guarded(path):
        path = path or paths.database()
        paths.check_files(path)
        paths.create(path)
        db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
        try:
            _configure(db)
            schema.migrate(db)
            yield db
        finally:
            db.close()


def _configure(db: sqlite3.Connection) -> None:
    db.row_factory = sqlite3.Row
    setconfig = getattr(db, "setconfig", None)  # Python >= 3.12
    if setconfig is not None:  # no checkpoint (5 fsyncs, ~2 ms) as each run closes the file:
        setconfig(_NO_CHECKPOINT_ON_CLOSE, True)  # the WAL's autocheckpoint does it, in time
    db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes only on a new, empty file
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        db.execute("PRAGMA journal_mode = WAL")  # kept in the file: once per database
    db.execute("PRAGMA synchronous = NORMAL")


@contextlib.contextmanager
def guarded(path: Path | None) -> Iterator[None]:
    """sqlite3 and OS errors as one HistoryError line."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise _failure(exc, path) from None
    except sqlite3.Error as exc:
        raise HistoryError(f"history database {_where(path)}: {exc}") from None
    except schema.TooNew as exc:
        raise HistoryError(
            f"history database {_where(path)} has {exc}", hint="upgrade cgseq"
        ) from None
    except OSError as exc:
        raise paths.failure(exc, path or paths.directory(), "use the history database") from None


def _failure(exc: sqlite3.DatabaseError, path: Path | None) -> HistoryError:
    where = _where(path)
    message = str(exc)
    if "locked" in message or "busy" in message:
        return HistoryError(f"history database {where} is locked by another process ({message})")
    if "not a database" in message or "malformed" in message:
        return HistoryError(
            f"history database {where} is corrupt ({message})",
            hint=f"move it aside to start a new one: mv {where} {where}.broken",
        )
    return HistoryError(f"history database {where}: {message}")


def _where(path: Path | None) -> Path:
    return path or paths.directory() / paths.DATABASE


def record(
    result: JobResult,
    extras: Extras,
    *,
    retention: Retention | None = None,
    busy_timeout: float = BUSY_TIMEOUT,
    path: Path | None = None,
) -> int:
    """Insert the job (see :func:`cgseq.history.record`); returns its history id."""
    recorded = time.time()
    if extras.started is None:
        extras = extras._replace(started=recorded - result.duration)
    row = row_of(result, extras, recorded)
    with opened(path, busy_timeout) as db:
        db.execute("BEGIN IMMEDIATE")
        with _transaction(db):
            job = _insert(db, row)
            if retention is not None or job % PRUNE_EVERY == 0:
                prune(db, retention or retention_for(result.project), recorded)
        return job


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _insert(db: sqlite3.Connection, row: dict[str, object]) -> int:
    names = ", ".join(row)
    marks = ", ".join(f":{name}" for name in row)
    updates = ", ".join(f"{name} = excluded.{name}" for name in row)
    # the same job, imported from history.jsonl a moment ago, takes this fuller row in place
    cursor = db.execute(
        f"INSERT INTO jobs ({names}) VALUES ({marks}) "
        f"ON CONFLICT (job_id) WHERE job_id <> '' DO UPDATE SET {updates} RETURNING id",
        row,
    )
    return int(cursor.fetchone()[0])


def prune(db: sqlite3.Connection, retention: Retention, now: float) -> int:
    """Drop what ``retention`` does not keep (inside the caller's transaction)."""
    dropped = 0
    if retention.max_age is not None:
        cursor = db.execute("DELETE FROM jobs WHERE recorded < ?", (now - retention.max_age,))
        dropped += cursor.rowcount
    if retention.max_rows is not None:
        cursor = db.execute(
            "DELETE FROM jobs WHERE id <= (SELECT max(id) FROM jobs) - ?", (retention.max_rows,)
        )
        dropped += cursor.rowcount
    if dropped:
        db.execute("PRAGMA incremental_vacuum")  # give the freed pages back to the disk
    return dropped


def retention_for(project: str) -> Retention:
    """The ``history_max_rows`` and ``history_max_age`` settings of ``project``."""
    from cgseq import config

    settings = config.resolve(project)
    return Retention(settings["history_max_rows"].value, settings["history_max_age"].value)
