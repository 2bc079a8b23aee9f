"""Known jobs and results for the history tests."""

from __future__ import annotations

from typing import Any

from cgseq.history.jobs import Job
from cgseq.history.rows import command_of
from cgseq.model import TerminationReason
from cgseq.result import JobResult

MiB = 1 << 20


def make_job(
    number: int,
    argv: list[str],
    *,
    duration: float = 1.0,
    peak: int | None = 10 * MiB,
    exit_code: int = 0,
    project: str = "/p",
) -> Job:
    """A job as the history gives it back, with what the stats look at."""
    return Job(
        id=number,
        job_id=f"job-{number}",
        recorded=1000.0 + number,
        started=999.0 + number,
        argv=argv,
        command=command_of(argv),
        cwd=project,
        project=project,
        lock=None,
        backend="poll",
        limits={},
        enforcement={},
        queue_wait=0.0,
        duration=duration,
        exit_code=exit_code,
        reason="exited",
        detail=None,
        attempts=1,
        peak_memory=peak,
        peak_pids=1,
        timeline=None,
        psi=None,
        warnings=[],
        leftovers_killed=[],
        shm_files=[],
    )


def make_result(argv: list[str], project: str = "/p", **fields: Any) -> JobResult:
    """A finished job's result, as the supervisor would give it."""
    values: dict[str, Any] = {
        "cwd": project,
        "project": project,
        "backend": "poll",
        "limits": {"memory": 200 * MiB, "swap": 0, "pids": None, "timeout": None},
        "enforcement": {"memory": "sampled every 100ms"},
        "exit_code": 0,
        "reason": TerminationReason.EXITED,
        "duration": 1.0,
        "peak_memory": 10 * MiB,
        "peak_pids": 1,
    }
    values.update(fields)
    return JobResult(argv=argv, **values)
