"""The outcome of a job; imported once the job has run, never by a queued waiter."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cgseq.model import TerminationReason


@dataclass
class JobResult:
    """The outcome of one job (all attempts); serialises to JSON."""

    argv: list[str]
    cwd: str
    project: str
    backend: str
    limits: dict[str, Any]
    enforcement: dict[str, str]
    exit_code: int
    reason: TerminationReason
    detail: str | None = None
    queue_wait: float = 0.0
    duration: float = 0.0
    attempts: int = 1
    peak_memory: int | None = None
    peak_pids: int | None = None
    leftovers_killed: list[str] = field(default_factory=list)
    shm_files: list[str] = field(default_factory=list)  # tmpfs files a kill left or removed
    warnings: list[str] = field(default_factory=list)
    job_id: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["reason"] = self.reason.value
        return data
