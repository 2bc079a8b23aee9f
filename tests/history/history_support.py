"""Known jobs and results for the history tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from cgseq.history.jobs import Job
from cgseq.history.rows import command_of
from cgseq.model import TerminationReason
from cgseq.result import JobResult
from tests.support import REPO, wait_until, with_repo_on_path

MiB = 1 << 20
WRITER = REPO / "tests" / "helpers" / "history_writer.py"


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


def run_writers(job_ids: list[str], work: Path) -> list[tuple[int, str]]:
    """One process per job id, each recording its job once all are ready, all at once (a
    gate file); their (exit code, output)."""
    gate, ready = work / "gate", work / "ready"
    env, argv = with_repo_on_path(), [sys.executable, str(WRITER)]
    writers = [
        subprocess.Popen(
            [*argv, job, str(gate), str(ready)], env=env, stdout=subprocess.PIPE, text=True
        )
        for job in job_ids
    ]
    try:
        count = len(job_ids)
        wait_until(
            lambda: ready.exists() and len(ready.read_text().split()) == count,
            240,
            f"{count} writers to be ready",
        )
        gate.touch()
        outputs = [writer.communicate(timeout=120)[0] for writer in writers]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
    return [(writer.returncode, output) for writer, output in zip(writers, outputs, strict=True)]
