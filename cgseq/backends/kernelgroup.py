"""What the cgroup v1 and v2 job groups share; each backend supplies its own files.

A subclass provides ``backend`` (its name), ``paths()`` (its group directories),
``_members()``, ``_update_usage()`` (refresh ``self._usage``) and ``_verdict()`` (the
kernel's reason to end the job, read from its event files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from cgseq.backends import cgroupfs
from cgseq.model import Breach, Limits, Usage


class KernelGroup:
    backend = "kernel"

    def __init__(self, job_id: str, limits: Limits, freezer: cgroupfs.Freezer | None) -> None:
        self.job_id = job_id
        self.limits = limits
        self._breach: Breach | None = None
        self._usage = Usage()
        self._freezer = freezer

    def paths(self) -> list[Path]:
        raise NotImplementedError

    def _members(self) -> list[int]:
        raise NotImplementedError

    def _update_usage(self) -> None:
        raise NotImplementedError

    def _verdict(self) -> Breach | None:
        raise NotImplementedError

    def apply_limits(self) -> None:
        raise NotImplementedError

    def with_limits(self) -> Self:
        """Apply the limits to the new, empty group; remove it again if one does not take."""
        try:
            self.apply_limits()
        except BaseException:
            self.close()
            raise
        return self

    def sample(self) -> Breach | None:
        self._update_usage()
        found = self._verdict()
        if found is not None and self._breach is None:
            self._breach = found  # the first reason recorded wins
        return found

    def pressure(self) -> dict[str, int] | None:
        return None  # cgroup v1 keeps no pressure per group

    def usage(self) -> Usage:
        self._update_usage()
        usage = self._usage
        return Usage(usage.peak_memory, usage.peak_pids, usage.memory_now, usage.pids_now)

    def termination(self) -> Breach | None:
        if self._breach is None:
            self.sample()
        return self._breach

    def pids(self) -> list[int]:
        return self._members()

    def signal(self, signum: int) -> None:
        cgroupfs.signal_frozen(self._freezer, self._members, signum)

    def record(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "job_id": self.job_id,
            "paths": [str(path) for path in self.paths()],
        }

    def close(self) -> None:
        self._update_usage()
        for path in self.paths():
            cgroupfs.remove_group(path)

    def detach(self) -> None:
        self._update_usage()
        cgroupfs.mark_kept(self.paths())


def larger(a: int | None, b: int | None) -> int | None:
    """The larger of two optional readings (a peak that one source may not know)."""
    return b if a is None else a if b is None else max(a, b)
