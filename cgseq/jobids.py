"""Job ids name a job's group everywhere (cgroup dir, scope, records) and tell its supervisor.

Format: ``<supervisor pid>-<supervisor start, hex>-<n, hex>``. The start is the moment the
kernel started the supervisor process, as the kernel keeps it: on Linux field 22 of
``/proc/<pid>/stat`` (clock ticks after boot, read the same way when the id is written and
when it is checked, so a step of the wall clock cannot move it); elsewhere psutil's create
time in ms. ``n`` counts the jobs this process made (a library caller runs several). The
supervisor is alive while that pid runs with exactly that start: a reused pid has another.
Only ``[0-9a-f-]``: valid as a cgroup dir name and inside a systemd unit name.

Ids of the older format ``<pid>-<wall-clock ms, hex>`` are still recognised, so their
groups are never mistaken for foreign ones; but a wall-clock time cannot identify a
process, so such a supervisor counts as alive while its pid runs: when unsure, never kill.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from pathlib import Path
from typing import NamedTuple


class JobId(NamedTuple):
    pid: int  # the supervisor's
    start: int | None  # its kernel start (see above); None for an id of the older format


_COUNTER = itertools.count(1)
_HEX = frozenset("0123456789abcdef")


def new_job_id() -> str:
    pid = os.getpid()
    start = own_start(pid)
    if start is None:  # no /proc, no psutil answer: an id that never gets a live process killed
        return f"{pid}-{time.time_ns() // 1_000_000:x}{next(_COUNTER):04x}"
    return f"{pid}-{start:x}-{next(_COUNTER):x}"


def parse(job_id: str) -> JobId | None:
    """The id's supervisor, or None when ``job_id`` is not one of ours."""
    parts = job_id.split("-")
    if not 2 <= len(parts) <= 3 or not parts[0].isascii() or not parts[0].isdigit():
        return None
    if not all(part and _HEX.issuperset(part) for part in parts[1:]):
        return None
    return JobId(int(parts[0]), int(parts[1], 16) if len(parts) == 3 else None)


def supervisor_alive(job_id: str) -> bool:
    """Is the process that started this job still running? When unsure: yes (never touch)."""
    parsed = parse(job_id)
    if parsed is None:
        return True  # not ours to judge: never touch it
    return _alive(parsed) is not False


def supervisor_verified(job_id: str) -> bool:
    """Is that supervisor certainly alive: its pid runs with exactly the id's start?"""
    parsed = parse(job_id)
    return parsed is not None and parsed.start is not None and _alive(parsed) is True


def own_start(pid: int) -> int | None:
    """This process's start as an id records it (``pid`` is ``os.getpid()``)."""
    if _LINUX:
        fields = stat_fields(pid)
        return int(fields[19]) if fields is not None else None
    return psutil_start(pid)


def _alive(parsed: JobId) -> bool | None:
    """True: that very process runs; False: it is gone or dying; None: cannot tell."""
    if not _LINUX:
        return alive_by_psutil(parsed.pid, parsed.start)
    try:
        fields = _read_stat(parsed.pid)
    except (FileNotFoundError, ProcessLookupError):
        return None if _pid_exists(parsed.pid) else False  # hidden from our /proc: unsure
    except OSError:
        return None
    if fields[0] in ("Z", "X"):  # a zombie has exited; only its parent has not reaped it
        return False
    if int(fields[6]) & _PF_EXITING:  # dying: its locks are already gone, it is not coming back
        return False
    if parsed.start is None:
        return None  # older id: the pid runs, but whether it is that process is unknown
    return int(fields[19]) == parsed.start  # field 22: starttime, in clock ticks after boot


_LINUX = sys.platform.startswith("linux")
_PF_EXITING = 0x4  # include/linux/sched.h; set before a dying task closes its files


def stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` after the comm (field 3 is [0]); None when it cannot be read."""
    try:
        return _read_stat(pid)
    except OSError:
        return None


def _read_stat(pid: int) -> list[str]:
    # /proc instead of psutil: psutil's import costs 12 ms on the hand-off path
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _pid_exists(pid: int) -> bool:
    """Does the pid exist, though /proc does not show it (hidepid, no /proc)? Then unsure."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: it exists, owned by someone else
    return True


def psutil_start(pid: int) -> int | None:
    """psutil's create time in ms (where there is no /proc: macOS).

    On macOS this is the kernel's recorded start (``p_starttime``), which a step of the wall
    clock does not rewrite, so it matches at check time what it was when the id was made.
    """
    import psutil  # off the Linux hot path: used only where there is no /proc

    try:
        return int(psutil.Process(pid).create_time() * 1000)
    except psutil.Error:
        return None


def alive_by_psutil(pid: int, start: int | None) -> bool | None:
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        created = int(process.create_time() * 1000)
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return None
    if start is None:
        return None
    return abs(created - start) <= 1  # the same float each time; 1 ms for rounding
