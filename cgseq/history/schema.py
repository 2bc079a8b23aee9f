"""The history's schema and its migrations, numbered by ``PRAGMA user_version``.

``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1``. :func:`migrate` applies
the missing ones in one ``BEGIN IMMEDIATE`` transaction and reads the version again once it
holds the write lock, so two processes that open a new database at once migrate it once. A
database newer than this cgseq knows is refused, never downgraded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

_JOBS = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,  -- the history id: max + 1, and pruning never drops the newest
    job_id TEXT NOT NULL,                  -- cgseq's job id ('' for old imported rows)
    recorded REAL NOT NULL,                -- wall clock when recorded: what max_age counts
    started REAL,                          -- wall clock when the job started (NULL: unknown)
    argv TEXT NOT NULL,                    -- JSON list
    command TEXT NOT NULL,                 -- argv as shown and grouped by 'history stats'
    cwd TEXT NOT NULL,
    project TEXT NOT NULL,
    lock TEXT,
    backend TEXT NOT NULL,
    limits TEXT NOT NULL,                  -- JSON object, JobResult.limits
    enforcement TEXT NOT NULL,             -- JSON object: limit -> what enforced it
    queue_wait REAL NOT NULL,
    duration REAL NOT NULL,
    exit_code INTEGER NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT,
    attempts INTEGER NOT NULL,
    peak_memory INTEGER,
    peak_pids INTEGER,
    timeline TEXT,                         -- JSON, Timeline.to_json()
    psi_some_usec INTEGER,                 -- memory.pressure "some" total
    psi_full_usec INTEGER,                 -- memory.pressure "full" total
    warnings TEXT NOT NULL,                -- JSON list of lines
    extra TEXT NOT NULL                    -- JSON object: leftovers_killed, shm_files
)
"""


def _create(db: sqlite3.Connection) -> None:
    db.execute(_JOBS)
    db.execute("CREATE UNIQUE INDEX jobs_job_id ON jobs (job_id) WHERE job_id <> ''")
    db.execute("CREATE INDEX jobs_project ON jobs (project, id)")
    db.execute("CREATE INDEX jobs_recorded ON jobs (recorded)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _import_legacy(db: sqlite3.Connection) -> None:
    from cgseq.history import legacy

    legacy.import_jsonl(db, legacy.jsonl_path())


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_create, _import_legacy)
CURRENT = len(MIGRATIONS)


class TooNew(Exception):
    """The database was written by a newer cgseq."""

    def __init__(self, version: int) -> None:
        super().__init__(f"schema version {version}, newer than this cgseq knows ({CURRENT})")
        self.version = version


def version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, target: int = CURRENT) -> None:
    """Bring ``db`` (in autocommit mode) to version ``target``; a no-op when it is there."""
    if version(db) == target:
        return
    db.execute("BEGIN IMMEDIATE")  # the write lock first: the version is then settled
    try:
        found = version(db)
        if found > CURRENT:
            raise TooNew(found)
        for step in MIGRATIONS[found:target]:
            step(db)
        db.execute(f"PRAGMA user_version = {max(found, target):d}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
