"""One recorded job as ``cgseq history`` reads it back: the typed :class:`Job`.

``Job.to_json()`` is what ``cgseq history --json`` prints for each job (documented in the
README, versioned by the output's ``"version"``).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, NamedTuple

from cgseq.model import TerminationReason


class Job(NamedTuple):
    """A job as the history holds it."""

    id: int
    job_id: str
    recorded: float
    started: float | None
    argv: list[str]
    command: str
    cwd: str
    project: str
    lock: str | None
    backend: str
    limits: dict[str, Any]
    enforcement: dict[str, str]
    queue_wait: float
    duration: float
    exit_code: int
    reason: str
    detail: str | None
    attempts: int
    peak_memory: int | None
    peak_pids: int | None
    timeline: dict[str, Any] | None
    psi: dict[str, int] | None
    warnings: list[str]
    leftovers_killed: list[str]
    shm_files: list[str]

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        plain = {name: row[name] for name in _PLAIN}
        extra = _loaded(row["extra"], {})
        some, full = row["psi_some_usec"], row["psi_full_usec"]
        columns = row.keys()  # the list queries leave the timeline out
        return cls(
            **plain,
            argv=_loaded(row["argv"], []),
            limits=_loaded(row["limits"], {}),
            enforcement=_loaded(row["enforcement"], {}),
            timeline=_loaded(row["timeline"], None) if "timeline" in columns else None,
            psi=None if some is None and full is None else {"some_usec": some, "full_usec": full},
            warnings=_loaded(row["warnings"], []),
            leftovers_killed=list(extra.get("leftovers_killed") or []),
            shm_files=list(extra.get("shm_files") or []),
        )

    @property
    def memory_limit(self) -> int | None:
        value = self.limits.get("memory")
        return value if isinstance(value, int) else None

    @property
    def failed(self) -> bool:
        return self.exit_code != 0

    def outcome(self) -> str:
        """``ok``, ``exit 1``, ``memory``, ``timeout``, ``pids``, ``signal 9``, ..."""
        if self.reason == TerminationReason.EXITED.value:
            return "ok" if self.exit_code == 0 else f"exit {self.exit_code}"
        if self.reason == TerminationReason.SIGNALED.value and self.exit_code > 128:
            return f"signal {self.exit_code - 128}"
        return self.reason

    def to_json(self, timeline: bool = True) -> dict[str, Any]:
        data = self._asdict()
        data["outcome"] = self.outcome()
        if not timeline:
            del data["timeline"]
        return data


_PLAIN = (  # columns read as they are
    "id",
    "job_id",
    "recorded",
    "started",
    "command",
    "cwd",
    "project",
    "lock",
    "backend",
    "queue_wait",
    "duration",
    "exit_code",
    "reason",
    "detail",
    "attempts",
    "peak_memory",
    "peak_pids",
)


def _loaded(text: str | None, default: Any) -> Any:
    """A JSON column; what cannot be read (a hand-edited row) is the default, not a crash."""
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default
