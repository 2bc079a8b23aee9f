"""Job ids name a job's group everywhere (cgroup dir, scope, records) and tell its supervisor.

Format: ``<supervisor pid>-<supervisor start, hex>-<n, hex>``. The start is the moment the
kernel started the supervisor process, as :mod:`cgseq.procfs` reads it (on Linux clock
ticks after boot, read the same way when the id is written and when it is checked, so a
step of the wall clock cannot move it; elsewhere psutil's create time in ms). ``n``
counts the jobs this process made (a library caller runs several). The supervisor is alive
while that pid runs with exactly that start: a reused pid has another.
Only ``[0-9a-f-]``: valid as a cgroup dir name and inside a systemd unit name.

Ids of the older format ``<pid>-<wall-clock ms, hex>`` are still recognised, so their
groups are never mistaken for foreign ones; but a wall-clock time cannot identify a
process, so such a supervisor counts as alive while its pid runs: when unsure, never kill.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import NamedTuple

from cgseq import procfs


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


def first_job_id(pid: int) -> str | None:
    """The id the first job of process ``pid`` (a cgseq this process started) will have."""
    start = procfs.start(pid)
    return f"{pid}-{start:x}-1" if start is not None else None


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
    return procfs.start(pid)


def _alive(parsed: JobId) -> bool | None:
    """True: that very process runs; False: it is gone or dying; None: cannot tell."""
    return _judged(procfs.liveness(parsed.pid), parsed.start, procfs.START_SLACK)


def _judged(seen: procfs.Liveness, start: int | None, slack: int) -> bool | None:
    if seen.running is not True:
        return seen.running
    if start is None or seen.start is None:
        return None  # older id: the pid runs, but whether it is that process is unknown
    return abs(seen.start - start) <= slack


# The check where there is no /proc, by the names the tests call on Linux too.
psutil_start = procfs.start_by_psutil


def alive_by_psutil(pid: int, start: int | None) -> bool | None:
    return _judged(procfs.liveness_by_psutil(pid), start, slack=1)  # 1 ms for rounding
