"""The supervisor's own process tree, via psutil: who is left, and killing it to the last one.

On Linux the supervisor is a child subreaper, so every descendant (double-forked daemons
included) stays in this tree. On macOS a daemon that re-parents to launchd leaves it;
those are found by the job's id in their environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil

JOB_ENV = "CGSEQ_JOB_ID"
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


def left_by_job(job_id: str, pgid: int | None, not_before: float) -> list[psutil.Process]:
    """Processes a dead job left: in its process group, or ours with its id in their env.

    One pass over the process table. Only processes created after the job started qualify,
    so a reused pid is never hit (with slack: psutil's create times derive from a boot time
    rounded to whole seconds).
    """
    found = []
    uid, me = os.getuid(), os.getpid()
    not_before -= CREATE_TIME_SLACK
    for process in psutil.process_iter(["uids", "create_time"]):
        try:
            if process.info["create_time"] < not_before or process.pid == me:
                continue
            if (pgid is not None and os.getpgid(process.pid) == pgid) or (
                process.info["uids"].real == uid and process.environ().get(JOB_ENV) == job_id
            ):
                found.append(process)
        except (psutil.Error, OSError, TypeError, AttributeError):
            continue
    return found


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
