"""The outcome of a job; imported once the job has run, never by a queued waiter."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cgseq.model import TerminationReason


@dataclass
class JobResult:
    """The outcome of one job (all attempts); serialises to JSON.

    Read like :class:`subprocess.CompletedProcess`: ``returncode`` (``exit_code``),
    ``stdout``/``stderr`` (None unless captured) and :meth:`check_returncode`.
    """

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
    # captured output (cgseq.run(capture_output=True)): bytes, or str with text=True; Any as
    # in typeshed's CompletedProcess[Any], so either reads without a cast
    stdout: Any = None
    stderr: Any = None

    @property
    def returncode(self) -> int:
        """``exit_code``, by the name :class:`subprocess.CompletedProcess` gives it."""
        return self.exit_code

    def check_returncode(self) -> None:
        """Raise :class:`JobFailed` if the job's exit code is not 0."""
        if self.exit_code != 0:
            from cgseq.job_failed import JobFailed  # subprocess: off the CLI's path

            raise JobFailed(self)

    def to_json(self) -> dict[str, Any]:
        """The result as JSON values; captured output is not part of it (the history and
        ``--json`` keep figures, not a job's output)."""
        data = asdict(self)
        data["reason"] = self.reason.value
        del data["stdout"], data["stderr"]
        return data
