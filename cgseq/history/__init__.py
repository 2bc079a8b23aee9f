"""The history of finished jobs, in SQLite: what ran, how it ended, how its memory grew.

The front door for the rest of cgseq. ``record(result, ...)`` adds one finished job;
``cgseq history`` reads the jobs back (:mod:`cgseq.history.jobs`). The database is
``$XDG_STATE_HOME/cgseq/history.sqlite3`` (else ``~/.local/state/cgseq/``), see
:mod:`cgseq.history.paths`.

Importing this package costs nothing: ``sqlite3`` (~5 ms of imports) is imported by the
modules below, which are imported only once a job has ended. Every failure of the database
(corrupt, locked past the busy timeout, unwritable, unsafe) is one :class:`HistoryError`
with a one-line message: the caller warns once, and the job's exit code stands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cgseq.errors import CgseqError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from cgseq.history.store import Retention
    from cgseq.history.timeline import Timeline
    from cgseq.result import JobResult

BUSY_TIMEOUT = 5.0  # seconds a writer waits for another's transaction (50 at once: < 1 s)


class HistoryError(CgseqError):
    """The history database cannot be used (corrupt, locked, unwritable, unsafe); exit 125."""


def record(
    result: JobResult,
    *,
    timeline: Timeline | None = None,
    psi: Mapping[str, int] | None = None,
    lock: str | None = None,
    started: float | None = None,
    retention: Retention | None = None,
    busy_timeout: float = BUSY_TIMEOUT,
    path: Path | None = None,
) -> int:
    """Add one finished job to the history; returns its history id (``cgseq history show ID``).

    - ``timeline``: the job's memory samples (:class:`~cgseq.history.timeline.Timeline`),
      with the largest process at the peak;
    - ``psi``: memory pressure totals of the job's group, ``{"some": usec, "full": usec}``
      (``memory.pressure``'s ``total=``; :func:`cgseq.backends.pressure.totals` parses it);
    - ``lock``: the ``--lock`` name the job queued on, if any;
    - ``started``: wall-clock time (``time.time()``) the job started; default: now minus
      its duration;
    - ``retention``: how many rows and how old to keep; default: the ``history_max_rows``
      and ``history_max_age`` settings of the job's project, applied every
      ``store.PRUNE_EVERY`` records;
    - ``path``: the database (tests); default :func:`cgseq.history.paths.database`.

    Raises :class:`HistoryError` (one line) when the database cannot take the record.
    """
    from cgseq.history import store

    return store.record(
        result,
        store.Extras(timeline, psi, lock, started),
        retention=retention,
        busy_timeout=busy_timeout,
        path=path,
    )


def warm_up() -> None:
    """Import what :func:`record` needs (sqlite3 and the store, ~5 ms) ahead of time: for a
    waiter next in line, while the job before it still runs."""
    from cgseq.history import store  # noqa: F401


__all__ = ["BUSY_TIMEOUT", "HistoryError", "record", "warm_up"]
