"""The portable backend: psutil sampling of the job's process tree, killpg on a breach.

Works wherever psutil does (Linux, macOS, containers without cgroup access). Limits are
checked every ``poll_interval`` (default 100 ms), so a fast allocator can overshoot by what
it allocates in one interval; the kernel backends have no such window.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from cgseq.backends.base import MEMORY, PIDS, TRACKING, Availability
from cgseq.model import Breach, JobSpec, TerminationReason, Usage
from cgseq.units import format_size


class PollBackend:
    """Always available; enforces by sampling (not by the kernel)."""

    name: ClassVar[str] = "poll"

    def probe(self) -> Availability:
        tracking = "descendants (child subreaper)" if _linux() else "descendants + job id"
        return Availability(
            self.name,
            True,
            "sampling of the job's process tree "
            + ("(/proc children files)" if _linux() else "(psutil)"),
            enforces={
                MEMORY: "poll: total RSS of the tree, checked every interval",
                PIDS: "poll: process count, checked every interval",
                TRACKING: tracking,
            },
        )

    def open_group(self, spec: JobSpec, job_id: str) -> PollGroup:
        return PollGroup(spec, job_id)

    def reap(self, record: Mapping[str, Any]) -> list[str]:
        from cgseq import proctree

        job_id, started = str(record.get("job_id", "")), float(record.get("started", 0))
        if not job_id or not started:
            return []
        pgid = record.get("pgid")
        found = proctree.left_by_job(job_id, pgid if isinstance(pgid, int) else None, started)
        if not found:
            return []
        line = f"killed {proctree.describe(found)} left by dead job {job_id}"
        proctree.kill_until_gone(lambda: [p for p in found if p.is_running()], None)
        return [line]


def _linux() -> bool:
    return sys.platform.startswith("linux")


class PollGroup:
    """The job = this supervisor's descendants (plus its process group)."""

    def __init__(self, spec: JobSpec, job_id: str) -> None:
        self.limits = spec.limits
        self.job_id = job_id
        self.started = time.time()
        self.pgid: int | None = None
        self._usage = Usage(peak_memory=0, peak_pids=0, memory_now=0)
        needs_sampling = spec.limits.any_resource_limit() or spec.record
        self.poll_interval: float | None = spec.poll_interval if needs_sampling else None
        self._scanner: Any = None  # a procscan.ProcScanner on Linux, False where unsupported

    def place(self, pid: int) -> None:
        self.pgid = pid  # spawn_held made the child a process-group leader

    def enforced(self) -> dict[str, str]:
        result = {}
        if self.limits.memory is not None:
            result[MEMORY] = f"poll every {self.poll_interval:g}s (total RSS)"
        if self.limits.pids is not None:
            result[PIDS] = f"poll every {self.poll_interval:g}s (process count)"
        return result

    def sample(self) -> Breach | None:
        sizes = self._sizes()
        total = sum(size for size, _ in sizes)
        self._record(total, len(sizes))
        if self.limits.pids is not None and len(sizes) > self.limits.pids:
            return Breach(
                TerminationReason.PIDS, f"{len(sizes)} processes over limit {self.limits.pids}"
            )
        if self.limits.memory is not None and total > self.limits.memory:
            return Breach(TerminationReason.MEMORY, self._memory_detail(total, sizes))
        return None

    def _sizes(self) -> list[tuple[int, int]]:
        """(RSS, pid) of every live process of the job."""
        if self._scanner is None:
            from cgseq import procscan

            self._scanner = procscan.ProcScanner() if procscan.supported() else False
        if self._scanner:
            return [(rss, pid) for pid, rss, _state in self._scanner.scan()]
        from cgseq import proctree

        return [(_rss(p), p.pid) for p in proctree.descendants()]

    def _record(self, total: int, count: int) -> None:
        self._usage.memory_now = total
        self._usage.peak_memory = max(self._usage.peak_memory or 0, total)
        self._usage.peak_pids = max(self._usage.peak_pids or 0, count)

    def _memory_detail(self, total: int, sizes: list[tuple[int, int]]) -> str:
        from cgseq.procscan import name_of

        size, largest = max(sizes)
        return (
            f"memory {format_size(total)} over limit {format_size(self.limits.memory)} "
            f"(largest: {name_of(largest)} pid {largest}, {format_size(size)})"
        )

    def usage(self) -> Usage:
        return self._usage

    def pids(self) -> list[int]:
        from cgseq import proctree

        return [p.pid for p in proctree.descendants()]

    def signal(self, signum: int) -> None:
        from cgseq import proctree

        if self.pgid is not None:
            proctree.signal_group(self.pgid, signum)
        proctree.signal_all(proctree.descendants(), signum)

    def kill(self) -> None:
        from cgseq import proctree

        proctree.kill_until_gone(proctree.descendants, self.pgid)

    def is_empty(self) -> bool:
        from cgseq import proctree

        return not proctree.descendants()

    def termination(self) -> Breach | None:
        return None  # the poll backend's breaches are all reported by sample()

    def record(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "started": self.started, "pgid": self.pgid}

    def close(self) -> None:
        if self._scanner:
            self._scanner.close()

    def detach(self) -> None:
        pass  # kept processes re-parent to init when the supervisor exits


def _rss(process: Any) -> int:
    try:
        return int(process.memory_info().rss)
    except Exception:
        return 0


BACKEND = PollBackend
