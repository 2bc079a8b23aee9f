"""Job ids name a job's group everywhere (cgroup dir, scope, records) and tell its supervisor.

Format: ``<supervisor pid>-<start ms, hex>``. The supervisor is alive when that pid
exists and was created before the job started (a reused pid was created after).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

_JOB_ID = r"^(\d+)-([0-9a-f]+)$"


def new_job_id() -> str:
    return f"{os.getpid()}-{int(time.time() * 1000):x}"


def parse(job_id: str) -> tuple[int, float] | None:
    """``(supervisor pid, job start time)`` or None when ``job_id`` is not one of ours."""
    match = re.match(_JOB_ID, job_id)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2), 16) / 1000


def supervisor_alive(job_id: str) -> bool:
    """Is the process that started this job still running? Unknown ids count as alive."""
    parsed = parse(job_id)
    if parsed is None:
        return True  # not ours to judge: never touch it
    pid, started = parsed
    if sys.platform.startswith("linux"):
        return _alive_linux(pid, started)
    import psutil  # off the hot path: only reaping asks this

    try:
        process = psutil.Process(pid)
        # a zombie has exited (and dropped its locks); only its parent has not reaped it yet
        return process.create_time() <= started + 1.0 and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


_PF_EXITING = 0x4  # include/linux/sched.h; set before a dying task closes its files


def _alive_linux(pid: int, started: float) -> bool:
    """/proc instead of psutil (12 ms of import on the hand-off path)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:
        return True  # cannot tell: never touch it
    if fields[0] in ("Z", "X"):  # a zombie has exited; only its parent has not reaped it
        return False
    if int(fields[6]) & _PF_EXITING:  # dying: its locks are already gone, it is not coming back
        return False
    created = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    return created <= started + 1.0  # created after the job started: a reused pid


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0
