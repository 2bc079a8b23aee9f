"""Reading the history back: the recent jobs of a project, one job, every job for stats."""

from __future__ import annotations

import sqlite3

from cgseq.history.jobs import Job

# every column but the timeline, which only 'history show' needs (~4 KiB a job)
_BRIEF = (
    "id, job_id, recorded, started, argv, command, cwd, project, lock, backend, limits, "
    "enforcement, queue_wait, duration, exit_code, reason, detail, attempts, peak_memory, "
    "peak_pids, psi_some_usec, psi_full_usec, warnings, extra"
)


def recent(
    db: sqlite3.Connection, project: str | None, count: int | None, failed: bool = False
) -> list[Job]:
    """The last ``count`` jobs (None: all) of ``project`` (None: every project), oldest first."""
    where, values = _filter(project, failed)
    limit = -1 if count is None else count  # LIMIT -1: no limit
    query = f"SELECT {_BRIEF} FROM jobs {where} ORDER BY id DESC LIMIT ?"
    rows = db.execute(query, (*values, limit)).fetchall()
    return [Job.from_row(row) for row in reversed(rows)]


def _filter(project: str | None, failed: bool) -> tuple[str, tuple[object, ...]]:
    clauses, values = [], []
    if project is not None:
        clauses.append("project = ?")
        values.append(project)
    if failed:
        clauses.append("exit_code <> 0")
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(values)


def find(db: sqlite3.Connection, ref: str) -> Job | None:
    """A job by its history id (``42``) or its job id; None when there is none."""
    if ref.isascii() and ref.isdigit():
        row = db.execute("SELECT * FROM jobs WHERE id = ?", (int(ref),)).fetchone()
    else:
        row = db.execute("SELECT * FROM jobs WHERE job_id = ? AND job_id <> ''", (ref,)).fetchone()
    return Job.from_row(row) if row is not None else None
