"""What a job's memory did while it ran: the history's timeline and the early warning.

Fed by the supervisor's usage tick (once a second, :data:`cgseq.supervise.supervisor.TICK`),
imported once the job has started: nothing here is on a waiter's path.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cgseq import memwatch
from cgseq.early_warning import MemoryWarner
from cgseq.history.timeline import Timeline
from cgseq.model import JobSpec, Usage


class MemoryLog:
    """The samples of one attempt, and the warning lines they crossed (at most one each)."""

    def __init__(self, spec: JobSpec) -> None:
        self.argv = spec.argv
        self.started = time.time()  # wall clock, for the history
        self._t0 = time.monotonic()
        self.timeline = Timeline()
        limit, share = spec.limits.memory, spec.memory_warn_share
        self.warner = MemoryWarner(limit, share) if limit and share else None
        self._top: tuple[int, str, int] | None = None  # the largest process last seen

    def sample(self, usage: Usage, pids: Callable[[], list[int]]) -> str | None:
        """Add a sample; the early-warning line when it crossed a threshold."""
        now = usage.memory_now
        if now is None:
            return None
        top = None
        peak = self.timeline.peak
        if self.warner is not None or peak is None or now >= peak.memory:  # reads every pid
            found = memwatch.largest(pids())
            top = (found.pid, found.command, found.rss) if found is not None else None
            self._top = top or self._top
        self.timeline.add(time.monotonic() - self._t0, now, top)
        return self.warner.check(now, self.argv, top) if self.warner is not None else None

    def ended(self, usage: Usage, killed_for_memory: bool) -> None:
        """The last point: where a memory kill struck (its peak, with the largest process last
        seen), else the memory at the end."""
        last = usage.peak_memory if killed_for_memory else usage.memory_now
        if last is not None:
            self.timeline.add(time.monotonic() - self._t0, last, self._top)
