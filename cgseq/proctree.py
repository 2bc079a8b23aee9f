"""The supervisor's own process tree, via psutil: who is left, and killing it to the last one.

On Linux the supervisor is a child subreaper, so every descendant (double-forked daemons
included) stays in this tree. On macOS a daemon that re-parents to launchd leaves it;
those are found by the job's id in their environment.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import select
import signal
import time
from collections.abc import Mapping
from typing import NamedTuple

import psutil

from cgseq.procfs import JOB_ENV

CREATE_TIME_SLACK = 2.0


def descendants() -> list[psutil.Process]:
    """Live (non-zombie) descendants of this process."""
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return []
    return [p for p in children if _alive(p)]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def describe(processes: list[psutil.Process], limit: int = 5) -> str:
    """``sleep (pid 12), python3 (pid 13) and 3 more`` for one-line messages."""
    names = []
    for process in processes[:limit]:
        try:
            names.append(f"{process.name()} (pid {process.pid})")
        except psutil.Error:
            names.append(f"pid {process.pid}")
    more = len(processes) - limit
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def signal_all(processes: list[psutil.Process], signum: int) -> None:
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signum)  # psutil checks the pid was not reused


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class Leftover(NamedTuple):
    """A process verified as a dead job's, pinned so that a signal reaches only it."""

    process: psutil.Process
    pidfd: int | None  # Linux >= 5.3: names this very process, whatever reuses its pid later


def left_by_job(job_id: str, pgid: int | None, not_before: float) -> list[Leftover]:
    """Processes a dead job left, as far as cgseq itself can verify it (records can lie).

    A process qualifies only when it is ours (same real uid), was created after the job
    started (with slack: psutil's create times derive from a boot time rounded to whole
    seconds), and either carries the job's id in its environment, or is in the job's
    process group while a member of that group carries the id, or descends from one that
    qualifies. A pgid alone is never enough: that is also what pid reuse looks like.
    The caller closes the pidfds (:func:`kill_leftovers` does).
    """
    seen = [_inspect(pid, job_id, not_before) for pid in _candidates(not_before)]
    found = [s for s in seen if s is not None]
    marked_groups = {s.pgid for s in found if s.marked}
    chosen = {s.pid for s in found if s.marked or (s.pgid == pgid and pgid in marked_groups)}
    _add_descendants(chosen, found)
    for s in found:
        if s.pid not in chosen and s.leftover.pidfd is not None:
            os.close(s.leftover.pidfd)
    return [s.leftover for s in found if s.pid in chosen]


class _Seen(NamedTuple):
    leftover: Leftover
    pid: int
    pgid: int
    ppid: int
    marked: bool  # the job's id is in its environment


def _candidates(not_before: float) -> list[int]:
    """A cheap first cut (one pass over the process table): our uid, created late enough."""
    uid, me = os.getuid(), os.getpid()
    found = []
    for process in psutil.process_iter(["uids", "create_time"]):
        uids, created = process.info["uids"], process.info["create_time"]
        if uids is None or created is None or process.pid == me:
            continue  # vanished or hidden: not ours to judge
        if uids.real == uid and created >= not_before - CREATE_TIME_SLACK:
            found.append(process.pid)
    return found


def _inspect(pid: int, job_id: str, not_before: float) -> _Seen | None:
    """Pin the process first, then check it: what is checked is then what gets the signal."""
    try:
        pidfd = _pidfd(pid)
    except OSError:
        return None  # gone already
    try:
        return _check(psutil.Process(pid), pidfd, job_id, not_before)
    except (psutil.Error, OSError):
        pass  # gone, or not ours to read: not touched
    if pidfd is not None:
        os.close(pidfd)
    return None


def _check(process: psutil.Process, pidfd: int | None, job: str, not_before: float) -> _Seen:
    with process.oneshot():
        if (
            process.uids().real != os.getuid()
            or process.create_time() < not_before - CREATE_TIME_SLACK
            or process.status() == psutil.STATUS_ZOMBIE
        ):
            raise psutil.NoSuchProcess(process.pid)  # not a candidate (any more)
        pgid, ppid = os.getpgid(process.pid), process.ppid()
    return _Seen(Leftover(process, pidfd), process.pid, pgid, ppid, _marked(process, job))


def _marked(process: psutil.Process, job_id: str) -> bool:
    try:
        return process.environ().get(JOB_ENV) == job_id
    except psutil.Error:
        return False  # unreadable: cannot be attributed by its environment


def _pidfd(pid: int) -> int | None:
    """A pidfd for ``pid`` where the kernel has them; OSError when the process is gone."""
    if not hasattr(os, "pidfd_open"):
        return None
    try:
        return os.pidfd_open(pid)  # Linux >= 5.3
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EPERM, errno.EMFILE, errno.ENFILE):
            return None  # older kernel, a seccomp filter, no fds left: psutil's check instead
        raise


def _add_descendants(chosen: set[int], found: list[_Seen]) -> None:
    """Children of chosen processes are chosen too (ppid is the kernel's current word)."""
    grew = True
    while grew:
        grew = False
        for s in found:
            if s.pid not in chosen and s.ppid in chosen:
                chosen.add(s.pid)
                grew = True


def kill_leftovers(found: list[Leftover], timeout: float = 5.0) -> None:
    """SIGKILL each verified leftover and wait (bounded) until it has exited; closes pidfds."""
    try:
        for leftover in found:
            _kill(leftover)
        end = time.monotonic() + timeout
        for leftover in found:
            _wait_exited(leftover, end)
    finally:
        for leftover in found:
            if leftover.pidfd is not None:
                os.close(leftover.pidfd)


def _kill(leftover: Leftover) -> None:
    if leftover.pidfd is None:
        with contextlib.suppress(psutil.Error):
            leftover.process.send_signal(signal.SIGKILL)  # psutil checks the pid was not reused
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        signal.pidfd_send_signal(leftover.pidfd, signal.SIGKILL)  # Linux >= 5.1


def _wait_exited(leftover: Leftover, end: float) -> None:
    if leftover.pidfd is not None:  # readable once the process has exited (Linux >= 5.3)
        select.select([leftover.pidfd], [], [], max(0.0, end - time.monotonic()))
        return
    while _alive(leftover.process) and time.monotonic() < end:
        time.sleep(0.01)


def record_fields(record: Mapping[str, object]) -> tuple[str, float, int | None]:
    """``(job id, start time, pgid)`` of a poll record, which is untrusted input.

    ValueError names the first bad field; a pgid of the wrong type is dropped (it only
    ever widens a match that the marker already made).
    """
    from cgseq import jobids

    job_id, started, pgid = record.get("job_id"), record.get("started"), record.get("pgid")
    if not isinstance(job_id, str) or jobids.parse(job_id) is None:
        raise ValueError(f"not a job id: {str(job_id)[:40]!r}")
    if not isinstance(started, int | float) or isinstance(started, bool):
        raise ValueError(f"start time {str(started)[:40]!r} is not a number")
    try:
        when = float(started)
    except OverflowError:
        when = math.inf
    if not math.isfinite(when):
        raise ValueError(f"start time {str(started)[:40]!r} is not a time")
    return job_id, when, pgid if type(pgid) is int else None


def reap_dead_job(job_id: str, pgid: int | None, not_before: float, rounds: int = 3) -> str:
    """Kill what a dead job left (see :func:`left_by_job`); "" when nothing qualified.

    Rounds catch a fork that raced the first kill (its child is found by marker or parent).
    """
    killed: dict[int, psutil.Process] = {}
    for _ in range(rounds):
        found = left_by_job(job_id, pgid, not_before)
        if not found:
            break
        killed.update((leftover.process.pid, leftover.process) for leftover in found)
        kill_leftovers(found)
    return describe(list(killed.values())) if killed else ""


def kill_until_gone(collect: object, pgid: int | None, deadline: float = 10.0) -> None:
    """SIGKILL the job's process group and every process ``collect()`` finds, until none.

    Never reaps: the supervisor alone collects exit statuses (one of them is the job's).
    ``collect()`` must skip zombies, as :func:`descendants` does.
    """
    finder = collect if callable(collect) else descendants
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if pgid is not None:
            signal_group(pgid, signal.SIGKILL)
        left = finder()
        if not left:
            return
        signal_all(left, signal.SIGKILL)
        time.sleep(0.01)
