"""Memory of a process tree cgseq did not start, sampled: what ``cgseq watch`` reports.

Report-only: nothing here sends a signal or writes to a process; it only reads ``/proc``
(through :mod:`cgseq.procfs`; psutil where there is no ``/proc``). The tree is the process
and its descendants as they are at each sample (a double-forked daemon that left the tree
is not followed). Memory is each process's resident set (RSS), file-backed and shared pages
included, so pages shared after a fork count once per process. The root is known by its
pid and its start time: a reused pid is another process, and the watched one is gone.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Iterable
from typing import NamedTuple

from cgseq import procfs

GROWTH_WINDOW = 60.0  # seconds of samples the growth per minute is taken over
PAGE = os.sysconf("SC_PAGE_SIZE")


class Proc(NamedTuple):
    pid: int
    command: str
    rss: int  # bytes


class Sample(NamedTuple):
    at: float  # time.monotonic()
    wall: float  # time.time()
    processes: list[Proc]  # largest first

    @property
    def total(self) -> int:
        return sum(p.rss for p in self.processes)


class Watched:
    """One process and its tree; :meth:`sample` is None once the process is gone."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = procfs.start(pid)
        self.started = time.monotonic()
        self.peak = 0
        self._recent: collections.deque[tuple[float, int]] = collections.deque()

    def alive(self) -> bool:
        """It runs, and is the process first seen under its pid (not a reused pid)."""
        return (
            self.start is not None
            and procfs.start(self.pid) == self.start
            and procfs.running(self.pid)
        )

    def sample(self) -> Sample | None:
        if not self.alive():
            return None
        found = [proc for pid in tree(self.pid) if (proc := process(pid)) is not None]
        found.sort(key=lambda p: p.rss, reverse=True)
        sample = Sample(time.monotonic(), time.time(), found)
        self.peak = max(self.peak, sample.total)
        self._remember(sample)
        return sample

    def _remember(self, sample: Sample) -> None:
        self._recent.append((sample.at, sample.total))
        while sample.at - self._recent[0][0] > GROWTH_WINDOW:
            self._recent.popleft()

    def growth_per_minute(self) -> float | None:
        """Bytes per minute over the last minute of samples; None before a second sample."""
        if len(self._recent) < 2:
            return None
        (first_at, first), (last_at, last) = self._recent[0], self._recent[-1]
        span = last_at - first_at
        return (last - first) / span * 60 if span > 0 else None


def tree(root: int) -> list[int]:
    """``root`` and its descendants, each once (breadth first)."""
    found, queue, seen = [], collections.deque([root]), {root}
    while queue:
        pid = queue.popleft()
        found.append(pid)
        for child in procfs.children(pid):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return found


def largest(pids: Iterable[int]) -> Proc | None:
    """The process of ``pids`` with the most RSS (a job's group: the supervisor's "largest")."""
    found = [proc for pid in pids if (proc := process(pid)) is not None]
    return max(found, key=lambda p: p.rss, default=None)


def process(pid: int) -> Proc | None:
    """A process's name and RSS; None when it is gone or a zombie."""
    if not procfs.LINUX:
        return _proc_by_psutil(pid)
    found = procfs.stat(pid)
    if found is None or found.dead:
        return None
    return Proc(pid, procfs.name(pid), found.rss * PAGE)


def _proc_by_psutil(pid: int) -> Proc | None:
    import psutil  # only where there is no /proc (macOS)

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return Proc(pid, process.name(), int(process.memory_info().rss))
    except psutil.Error:
        return None
