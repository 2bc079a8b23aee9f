"""cgroup1 backend: kernel limits from the v1 memory, pids and freezer controllers.

For hybrid hosts whose memory and pids controllers still live on cgroup v1 (WSL2, older
distros, the machines cgseq is built on). Per job one group ``<parent>/<job id>`` in each
of the memory, pids and freezer hierarchies, plus one in the v2 tree when that tree is
mounted and writable (it then serves for ``cgroup.kill`` and emptiness; it has no
controllers on a hybrid host, so it never limits anything).

- memory: ``memory.limit_in_bytes`` (+ ``memory.memsw.limit_in_bytes`` so swap cannot
  extend it); the OOM verdict is the ``oom_kill N`` line of ``memory.oom_control``
  (Linux >= 4.13), never ``memory.failcnt`` (it also counts plain page-cache reclaim);
  peak from ``memory.max_usage_in_bytes``.
- pids: ``pids.max``; a refused fork counts in ``pids.events`` ``max`` (Linux >= 4.6);
  peak from ``pids.peak`` (Linux >= 6.1) or sampled ``pids.current``.
- kill: freeze, SIGKILL every member, thaw, repeat until empty (atomic against forks).

v1 has no ``memory.oom.group``: the OOM killer kills one process, so ``sample()`` turns
the ``oom_kill`` counter into a Breach and the supervisor kills the rest of the job.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from cgseq.backends import cgroupfs
from cgseq.backends.base import MEMORY, PIDS, SWAP, TRACKING, Availability, Capabilities
from cgseq.backends.kernelgroup import KernelGroup, larger
from cgseq.errors import BackendUnavailable
from cgseq.model import Breach, JobSpec, Limits, TerminationReason
from cgseq.units import format_size

NAME = "cgroup1"
POLL_INTERVAL = 0.25  # seconds; v1 has no oom.group, the supervisor must finish the kill
TRACKING_KEY = "unified"  # the v2 tree's group, when writable

_ROOT_FIX = "run cgseq as root: cgroup v1 has no safe delegation to unprivileged users"
_CONTAINER_FIX = (
    "in a container, give it a writable /sys/fs/cgroup "
    "(docker run --privileged, or -v /sys/fs/cgroup:/sys/fs/cgroup:rw)"
)


class Cgroup1Group(KernelGroup):
    """One job's groups in the v1 memory, pids and freezer hierarchies (+ v2 tracking)."""

    backend = NAME

    def __init__(self, job_id: str, limits: Limits, paths: dict[str, Path]) -> None:
        freezer = cgroupfs.Freezer.for_group(paths["freezer"]) if "freezer" in paths else None
        super().__init__(job_id, limits, freezer)
        self.by_controller = paths
        self.poll_interval: float | None = POLL_INTERVAL
        # only the v2 tracking group: cgroup namespaces do not confine v1 hierarchies
        self.cgroup_namespace = TRACKING_KEY in paths

    def paths(self) -> list[Path]:
        return list(self.by_controller.values())

    # -- setup

    def apply_limits(self) -> None:
        """Write every requested limit into the still-empty groups and read it back."""
        memory, limits = self.by_controller["memory"], self.limits
        if limits.memory is not None:
            cgroupfs.set_limit(NAME, memory / "memory.limit_in_bytes", limits.memory)
            if limits.swap is not None and (memory / "memory.memsw.limit_in_bytes").exists():
                total = limits.memory + limits.swap  # memsw = memory + swap, must be >= memory
                cgroupfs.set_limit(NAME, memory / "memory.memsw.limit_in_bytes", total)
        if limits.pids is not None:
            cgroupfs.set_limit(NAME, self.by_controller["pids"] / "pids.max", limits.pids)

    def place(self, pid: int) -> None:
        for path in self.by_controller.values():
            cgroupfs.place(NAME, path, pid)

    def enforced(self) -> dict[str, str]:
        memsw = (self.by_controller["memory"] / "memory.memsw.limit_in_bytes").exists()
        how = {
            TRACKING: "cgroup v1" + (" + v2 tracking" if TRACKING_KEY in self.by_controller else "")
        }
        if self.limits.memory is not None:
            how[MEMORY] = "kernel: memory.limit_in_bytes"
            if self.limits.swap is not None and memsw:
                how[SWAP] = "kernel: memory.memsw.limit_in_bytes"
        if self.limits.pids is not None:
            how[PIDS] = "kernel: pids.max"
        return how

    # -- while it runs

    def _update_usage(self) -> None:
        memory, pids = self.by_controller["memory"], self.by_controller["pids"]
        now = cgroupfs.read_int(memory / "memory.usage_in_bytes")
        peak = cgroupfs.read_int(memory / "memory.max_usage_in_bytes")
        current = cgroupfs.read_int(pids / "pids.current")
        tasks = cgroupfs.read_int(pids / "pids.peak")  # Linux >= 6.1; else sample current
        if tasks is None:
            tasks = current
        usage = self._usage
        usage.pids_now = current
        if now is not None:
            usage.memory_now = now
        usage.peak_memory = larger(usage.peak_memory, larger(peak, now))
        usage.peak_pids = larger(usage.peak_pids, tasks)

    def _verdict(self) -> Breach | None:
        oom = cgroupfs.read_keyed(self.by_controller["memory"] / "memory.oom_control").get(
            "oom_kill", 0
        )
        if oom > 0:
            detail = f"memory reached limit {format_size(self.limits.memory)}: " + (
                f"kernel OOM killer (oom_kill {oom}, peak {format_size(self._usage.peak_memory)})"
            )
            return Breach(TerminationReason.MEMORY, detail)
        refused = cgroupfs.read_keyed(self.by_controller["pids"] / "pids.events").get("max", 0)
        if refused > 0:
            detail = f"pids reached limit {self.limits.pids}: kernel refused {refused} fork(s)"
            return Breach(TerminationReason.PIDS, detail)
        return None

    def _members(self) -> list[int]:
        return sorted(
            {pid for path in self.by_controller.values() for pid in cgroupfs.live_procs(path)}
        )

    def kill(self) -> None:
        if TRACKING_KEY in self.by_controller:
            cgroupfs.kill_v2(
                self.by_controller[TRACKING_KEY]
            )  # Linux >= 5.14; the freezer loop follows
        cgroupfs.freeze_kill(self._freezer, self._members)

    def is_empty(self) -> bool:
        tracking = self.by_controller.get(TRACKING_KEY)
        if tracking is not None and cgroupfs.read_keyed(tracking / "cgroup.events").get(
            "populated"
        ):
            return False
        return not any(cgroupfs.procs(path) for path in self.by_controller.values())


class Cgroup1Backend:
    """Kernel limits through the cgroup v1 memory, pids and freezer controllers."""

    name: ClassVar[str] = NAME
    capabilities: ClassVar[Capabilities] = Capabilities()

    def may_run_here(self) -> bool:
        return True

    def probe(self) -> Availability:
        problem = _problem(cgroupfs.find_mounts())
        if problem is not None:
            reason, fix = problem
            return Availability(NAME, False, reason, fix=fix)
        return Availability(
            NAME,
            True,
            _describe(cgroupfs.find_mounts()),
            enforces=_ENFORCES,
            kernel=True,
            root_jobs=_ROOT_JOBS,
        )

    def open_group(self, spec: JobSpec, job_id: str) -> Cgroup1Group:
        mounts = cgroupfs.find_mounts()
        problem = _problem(mounts)
        if problem is not None:
            raise BackendUnavailable(NAME, problem[0], hint=problem[1])
        return Cgroup1Group(job_id, spec.limits, _create_groups(mounts, job_id)).with_limits()

    def reap(self, record: Mapping[str, Any]) -> list[str]:
        return cgroupfs.reap_record(NAME, dict(record))


_ROOT_JOBS = (
    "a root job can move itself out of its v1 memory/pids groups and go unlimited: cgroup "
    "namespaces do not confine v1 hierarchies (its own one keeps it only in its v2 tracking "
    "group, with nsdelegate); use cgroup2 or systemd for jobs you do not trust with root"
)

_ENFORCES = {
    MEMORY: "kernel: memory.limit_in_bytes",
    SWAP: "kernel: memory.memsw.limit_in_bytes",
    PIDS: "kernel: pids.max",
    TRACKING: "cgroup",
}


def _problem(mounts: cgroupfs.Mounts) -> tuple[str, str] | None:
    """Why this backend cannot run here, and the fix; None when it can."""
    if not sys.platform.startswith("linux"):
        return "cgroups exist only on Linux", "use --backend poll"
    missing = [name for name in cgroupfs.V1_CONTROLLERS if name not in mounts.v1]
    if missing:
        return (
            f"no cgroup v1 {'/'.join(missing)} controller mounted"
            + (f" (cgroup v2 at {mounts.v2})" if mounts.v2 else ""),
            "on a cgroup v2 host use --backend cgroup2 or systemd",
        )
    parent = cgroupfs.parent_name()
    for name in cgroupfs.V1_CONTROLLERS:
        where = cgroupfs.blocking_dir(mounts.v1[name], parent)
        if where is not None:
            return (
                f"cannot create groups in {where} (uid {os.geteuid()})",
                _ROOT_FIX if os.geteuid() != 0 else _CONTAINER_FIX,
            )
    return None


def _describe(mounts: cgroupfs.Mounts) -> str:
    where = ", ".join(str(mounts.v1[name]) for name in cgroupfs.V1_CONTROLLERS)
    tracking = _tracking_base(mounts)
    extra = f"; v2 tracking tree {tracking}" if tracking is not None else ""
    return f"cgroup v1 memory/pids/freezer at {where}{extra}"


def _tracking_base(mounts: cgroupfs.Mounts) -> Path | None:
    """The v2 tree serves for tracking when mounted and writable (hybrid hosts)."""
    if mounts.v2 is None or cgroupfs.blocking_dir(mounts.v2, cgroupfs.parent_name()) is not None:
        return None
    return mounts.v2


def _create_groups(mounts: cgroupfs.Mounts, job_id: str) -> dict[str, Path]:
    """``<mount>/<parent>/<job id>`` in memory, pids, freezer (+ v2 tracking if writable)."""
    parent = cgroupfs.parent_name()
    bases = {name: mounts.v1[name] for name in cgroupfs.V1_CONTROLLERS}
    tracking = _tracking_base(mounts)
    if tracking is not None:
        bases[TRACKING_KEY] = tracking
    created: dict[str, Path] = {}
    try:
        for key, mount in bases.items():
            created[key] = _create_one(mount / parent, job_id, optional=key == TRACKING_KEY)
    except BaseException:
        for path in created.values():
            cgroupfs.remove_group(path)
        raise
    return {key: path for key, path in created.items() if path.is_dir()}


def _create_one(base: Path, job_id: str, *, optional: bool) -> Path:
    try:
        _make_parents(base)
        cgroupfs.make_group(NAME, base / job_id)
    except BackendUnavailable:
        if not optional:
            raise
    return base / job_id


def _make_parents(base: Path) -> None:
    for directory in reversed([base, *base.parents]):
        if not directory.exists():
            cgroupfs.make_group(NAME, directory, exist_ok=True)


BACKEND = Cgroup1Backend
