"""Starting, waiting for and stopping the bench's own child processes.

Every child gets its own session, so it and whatever it started in that session can be
signalled as a group through the Popen handle we hold. Nothing is ever killed by name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from bench import procfs

Popen = subprocess.Popen[bytes]
STOP_GRACE = 2.0


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    stdout: int | IO[bytes] | None = subprocess.DEVNULL,
    stderr: int | IO[bytes] | None = subprocess.DEVNULL,
) -> Popen:
    """Start ``argv`` in a new session with no stdin."""
    return subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )


def _signal_group(popen: Popen, sig: int) -> None:
    """Signal the child's process group, only while the child is not yet reaped.

    An unreaped child keeps its pid (and so its group id) from being reused.
    """
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, sig)


def stop(popen: Popen, grace: float = STOP_GRACE) -> None:
    """SIGTERM the child's group, SIGKILL after ``grace`` seconds, then reap it."""
    _signal_group(popen, signal.SIGTERM)
    try:
        popen.wait(grace)
    except subprocess.TimeoutExpired:
        _signal_group(popen, signal.SIGKILL)
        popen.wait(grace)


def stop_all(popens: Sequence[Popen], grace: float = STOP_GRACE) -> None:
    """Stop many children at once: SIGTERM all, one shared grace period, SIGKILL the rest."""
    for popen in popens:
        _signal_group(popen, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for popen in popens:
        try:
            popen.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(popen, signal.SIGKILL)
    for popen in popens:
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(grace)


def stop_foreign(pid: int, starttime: int, grace: float = STOP_GRACE) -> None:
    """Stop a process we started that is not our child (e.g. nq's detached waiter).

    ``starttime`` from /proc/<pid>/stat guards against a recycled pid.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        stat = procfs.read_stat(pid)
        if stat is None or stat.starttime != starttime or stat.state in ("Z", "X"):
            return
        try:
            # A group leader (e.g. a job that called setsid) takes its group along.
            if stat.pgrp == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            return
        wait_for(lambda: procfs.is_dead(pid), grace)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.005) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def open_gate(fifo: Path, timeout: float = 10.0) -> bool:
    """Write a line into ``fifo`` as soon as a reader has it open; False if none came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
            time.sleep(0.002)
            continue
        try:
            os.write(fd, b"go\n")
        finally:
            os.close(fd)
        return True
    return False


def settle(pids: Callable[[], Sequence[int]], quiet: float, timeout: float) -> bool:
    """Wait until the processes ``pids()`` use no CPU for ``quiet`` seconds (they are blocked).

    Returns False if they were still busy when ``timeout`` ran out (e.g. a polling waiter).
    """
    deadline = time.monotonic() + timeout
    last = procfs.cpu_ticks(pids())
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(min(0.05, quiet))
        now = procfs.cpu_ticks(pids())
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            return True
    return False
