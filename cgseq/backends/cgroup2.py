"""cgroup2 backend: kernel limits from a writable cgroup v2 subtree.

Per job one group ``<base>/<parent>/<job id>`` with ``memory.max``, ``memory.swap.max``,
``memory.oom.group=1`` (Linux >= 4.19: an OOM kill takes the whole job) and ``pids.max``,
each read back after writing. The job is over when ``cgroup.events`` says ``populated 0``
(double-forked daemons included); ``cgroup.kill`` (Linux >= 5.14) kills it atomically,
else ``cgroup.freeze`` (Linux >= 5.2) + SIGKILL rounds. The verdict comes from
``memory.events`` ``oom_kill`` and ``pids.events`` ``max``; peaks from ``memory.peak``
(Linux >= 5.19) and ``pids.peak`` (Linux >= 6.1), else from sampling.

Where ``<base>`` is (first that works):

1. **root of the v2 tree** (or of the container's cgroup namespace) when memory and
   pids are already enabled in its ``cgroup.subtree_control`` and we may create groups
   there (root). cgseq never writes the root's ``subtree_control`` itself.
2. **prepared delegation**: the parent of our own cgroup, when it is writable, has memory
   and pids enabled for its children, and is marked delegated (systemd >= 251 sets the
   ``trusted.delegate`` / ``user.delegate`` xattr for ``Delegate=yes``) or is the base
   cgseq prepared itself (our cgroup is its ``cgseq-supervisor`` leaf, see 3).
3. **unprepared delegation**: our own cgroup is writable and has memory and pids in
   ``cgroup.controllers`` (a ``Delegate=yes`` unit or scope). cgroup v2's "no internal
   processes" rule forbids enabling controllers for the children of a group that holds
   processes, so cgseq moves *itself* into the leaf ``<own>/cgseq-supervisor`` and then
   enables ``+memory +pids`` in ``<own>/cgroup.subtree_control``. It only does that when
   it is the only process of its cgroup: it never moves a process it did not start.
   Typical: ``systemd-run --user --scope -p Delegate=yes -- cgseq run ...``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from cgseq.backends import cgroupfs
from cgseq.backends.base import MEMORY, PIDS, SWAP, TRACKING, Availability, Capabilities
from cgseq.backends.kernelgroup import KernelGroup, larger
from cgseq.backends.pressure import read as read_pressure
from cgseq.errors import BackendUnavailable
from cgseq.model import Breach, JobSpec, Limits, TerminationReason
from cgseq.units import format_size

NAME = "cgroup2"
NEEDED = frozenset({"memory", "pids"})
SUPERVISOR_LEAF = "cgseq-supervisor"
POLL_INTERVAL = 0.25  # seconds, only when the kernel lacks a peak file or a pids limit is set
_DELEGATE_XATTRS = ("trusted.delegate", "user.delegate")  # systemd >= 251 / >= 253

_ENFORCES = {
    MEMORY: "kernel: memory.max",
    SWAP: "kernel: memory.swap.max",
    PIDS: "kernel: pids.max",
    TRACKING: "cgroup",
}
_DELEGATE_FIX = (
    "run cgseq as root, or as the only process of a unit or scope with Delegate=yes, e.g. "
    "`systemd-run --user --scope -p Delegate=yes -- cgseq run ...` (the user manager needs "
    "memory and pids delegated: /etc/systemd/system/user@.service.d/delegate.conf with "
    "[Service] Delegate=memory pids); in a container: --cgroupns=private and a writable "
    "/sys/fs/cgroup"
)


@dataclass(frozen=True)
class Location:
    """Where cgseq's ``<parent>`` group goes in the v2 tree, and how it got there."""

    base: Path
    how: str
    move_self: bool = False  # unprepared delegation: move cgseq into base/SUPERVISOR_LEAF


class Cgroup2Group(KernelGroup):
    """One job's cgroup v2 group: limits, verdict, peaks, kill and removal."""

    backend = NAME

    def pressure(self) -> dict[str, int] | None:
        return read_pressure(self.path)  # Linux >= 4.20, CONFIG_PSI

    def __init__(self, job_id: str, limits: Limits, path: Path) -> None:
        super().__init__(job_id, limits, cgroupfs.Freezer.for_group(path))
        self.path = path
        self.cgroup_namespace = True
        sampled = not (path / "memory.peak").exists() or not (path / "pids.peak").exists()
        self.poll_interval: float | None = (
            POLL_INTERVAL if sampled or limits.pids is not None else None
        )

    def apply_limits(self) -> None:
        """Write every requested limit into the still-empty group and read it back."""
        limits, path = self.limits, self.path
        if limits.memory is not None:
            cgroupfs.set_limit(NAME, path / "memory.max", limits.memory)
            if limits.swap is not None and (path / "memory.swap.max").exists():
                cgroupfs.set_limit(NAME, path / "memory.swap.max", limits.swap)
        if (path / "memory.oom.group").exists():  # Linux >= 4.19
            cgroupfs.set_exact(NAME, path / "memory.oom.group", "1")
        if limits.pids is not None:
            cgroupfs.set_limit(NAME, path / "pids.max", limits.pids)

    def place(self, pid: int) -> None:
        cgroupfs.place(NAME, self.path, pid)

    def enforced(self) -> dict[str, str]:
        how = {TRACKING: "cgroup v2"}
        if self.limits.memory is not None:
            how[MEMORY] = "kernel: memory.max"
            if self.limits.swap is not None and (self.path / "memory.swap.max").exists():
                how[SWAP] = "kernel: memory.swap.max"
        if self.limits.pids is not None:
            how[PIDS] = "kernel: pids.max"
        return how

    def _update_usage(self) -> None:
        now = cgroupfs.read_int(self.path / "memory.current")
        peak = cgroupfs.read_int(self.path / "memory.peak")  # Linux >= 5.19
        current = cgroupfs.read_int(self.path / "pids.current")
        tasks = cgroupfs.read_int(self.path / "pids.peak")  # Linux >= 6.1
        if tasks is None:
            tasks = current
        usage = self._usage
        usage.pids_now = current
        if now is not None:
            usage.memory_now = now
        usage.peak_memory = larger(usage.peak_memory, larger(peak, now))
        usage.peak_pids = larger(usage.peak_pids, tasks)

    def _verdict(self) -> Breach | None:
        events = cgroupfs.read_keyed(self.path / "memory.events")
        if events.get("oom_kill", 0) > 0 or events.get("oom_group_kill", 0) > 0:
            detail = f"memory reached limit {format_size(self.limits.memory)}: " + (
                f"kernel OOM killer (oom_kill {events.get('oom_kill', 0)}, "
                f"peak {format_size(self._usage.peak_memory)})"
            )
            return Breach(TerminationReason.MEMORY, detail)
        refused = cgroupfs.read_keyed(self.path / "pids.events").get("max", 0)
        if refused > 0:
            detail = f"pids reached limit {self.limits.pids}: kernel refused {refused} fork(s)"
            return Breach(TerminationReason.PIDS, detail)
        return None

    def paths(self) -> list[Path]:
        return [self.path]

    def _members(self) -> list[int]:
        return cgroupfs.live_procs(self.path)

    def kill(self) -> None:
        if not cgroupfs.kill_v2(self.path):  # cgroup.kill: Linux >= 5.14
            cgroupfs.freeze_kill(self._freezer, self._members)

    def is_empty(self) -> bool:
        events = cgroupfs.read_keyed(self.path / "cgroup.events")
        return events.get("populated", 0) == 0


class Cgroup2Backend:
    """Kernel limits in a writable (root or delegated) cgroup v2 subtree."""

    name: ClassVar[str] = NAME
    capabilities: ClassVar[Capabilities] = Capabilities()

    def may_run_here(self) -> bool:
        return True

    def probe(self) -> Availability:
        found = locate(cgroupfs.find_mounts())
        if isinstance(found, tuple):
            return Availability(NAME, False, found[0], fix=found[1])
        return Availability(
            NAME,
            True,
            f"{found.how}; {_kernel_features()}",
            enforces=_ENFORCES,
            kernel=True,
            root_jobs=cgroupfs.root_jobs_v2(cgroupfs.find_mounts()),
        )

    def open_group(self, spec: JobSpec, job_id: str) -> Cgroup2Group:
        found = locate(cgroupfs.find_mounts())
        if isinstance(found, tuple):
            raise BackendUnavailable(NAME, found[0], hint=found[1])
        parent = _prepare_parent(found)
        cgroupfs.make_group(NAME, parent / job_id)
        return Cgroup2Group(job_id, spec.limits, parent / job_id).with_limits()

    def reap(self, record: Mapping[str, Any]) -> list[str]:
        return cgroupfs.reap_record(NAME, dict(record))


# ---------------------------------------------------------------- where the groups go


def locate(mounts: cgroupfs.Mounts) -> Location | tuple[str, str]:
    """Where cgseq may create its groups, or (why not, the fix). Changes nothing."""
    if not sys.platform.startswith("linux"):
        return "cgroups exist only on Linux", "use --backend poll"
    if mounts.v2 is None:
        return "no cgroup v2 tree is mounted", _V2_FIX
    root = mounts.v2
    missing = NEEDED - cgroupfs.controllers(root)
    if missing:
        return _missing_controllers(mounts, missing)
    parent = cgroupfs.parent_name()
    if _enabled(root) >= NEEDED and cgroupfs.blocking_dir(root, parent) is None:
        return Location(root, f"cgroup v2 root {root}")
    own = cgroupfs.own_v2_cgroup(mounts)
    if own is None:
        return "cannot tell this process's cgroup (/proc/self/cgroup)", _DELEGATE_FIX
    return _delegated(root, own, parent)


_V2_FIX = (
    "boot with systemd.unified_cgroup_hierarchy=1 for a cgroup v2 tree, "
    "or use --backend cgroup1 on a cgroup v1 host"
)


def _missing_controllers(mounts: cgroupfs.Mounts, missing: frozenset[str]) -> tuple[str, str]:
    names = ", ".join(sorted(missing))
    on_v1 = sorted(missing & set(mounts.v1))
    if on_v1:  # hybrid host: the controllers are bound to cgroup v1 and cannot be on v2 too
        return (
            f"the cgroup v2 tree at {mounts.v2} has no {names} controller: "
            f"{', '.join(on_v1)} {'is' if len(on_v1) == 1 else 'are'} bound to cgroup v1 here "
            "(hybrid layout)",
            "use --backend cgroup1 on this host, or boot with "
            "systemd.unified_cgroup_hierarchy=1 (pure cgroup v2) to use cgroup2",
        )
    return (
        f"the cgroup v2 tree at {mounts.v2} offers no {names} controller",
        "enable it for this tree (kernel CONFIG_MEMCG / CONFIG_CGROUP_PIDS; in a container, "
        "ask the host to delegate memory and pids with --cgroupns=private)",
    )


def _enabled(group: Path) -> set[str]:
    return cgroupfs.controllers(group, "cgroup.subtree_control")


def _delegated(root: Path, own: Path, parent: str) -> Location | tuple[str, str]:
    """Modes 2 and 3 of the module docstring."""
    up = own.parent
    if own != root and up != root and _prepared(up, own) and not cgroupfs.blocking_dir(up, parent):
        return Location(up, f"delegated cgroup v2 subtree {up}")
    if not os.access(own, os.W_OK | os.X_OK) or not os.access(own / "cgroup.procs", os.W_OK):
        return f"cannot create cgroups in {own} (uid {os.geteuid()}; not delegated)", _DELEGATE_FIX
    if not cgroupfs.controllers(own) >= NEEDED:
        missing = ", ".join(sorted(NEEDED - cgroupfs.controllers(own)))
        return f"{own} is writable but {missing} is not delegated to it", _DELEGATE_FIX
    others = [pid for pid in cgroupfs.procs(own) if pid != os.getpid()]
    if others:
        return _crowded(own, others)
    return Location(own, f"delegated cgroup v2 subtree {own} (cgseq moves into a leaf)", True)


def _prepared(group: Path, own: Path) -> bool:
    if not _enabled(group) >= NEEDED:
        return False
    return own.name == SUPERVISOR_LEAF or any(_xattr(group, name) for name in _DELEGATE_XATTRS)


def _xattr(path: Path, name: str) -> bool:
    try:
        return os.getxattr(path, name) == b"1"
    except OSError:
        return False


def _crowded(own: Path, others: list[int]) -> tuple[str, str]:
    shown = ", ".join(map(str, others[:5]))
    return (
        f"{own} is delegated but holds other processes ({shown}): cgroup v2's no-internal-"
        "processes rule keeps memory/pids off its children, and cgseq moves no process "
        "it did not start",
        f"move those processes into a leaf (e.g. {own}/init), enable them with "
        f"`echo '+memory +pids' > {own}/cgroup.subtree_control`, and set "
        "the xattr user.delegate=1 on it (systemd >= 251 does); or start cgseq as the only "
        "process of its own scope: `systemd-run --user --scope -p Delegate=yes -- cgseq run ...`",
    )


def _prepare_parent(found: Location) -> Path:
    """Create ``<base>/<parent>`` with memory and pids enabled for the job groups."""
    if found.move_self:
        leaf = found.base / SUPERVISOR_LEAF
        cgroupfs.make_group(NAME, leaf, exist_ok=True)
        cgroupfs.place(NAME, leaf, os.getpid())  # ourselves only: see the module docstring
        cgroupfs.set_exact(NAME, found.base / "cgroup.subtree_control", "+memory +pids")
    parts = Path(cgroupfs.parent_name()).parts
    for depth in range(1, len(parts) + 1):  # every level of a nested parent like "ci/cgseq"
        _enable_below(found.base.joinpath(*parts[:depth]))
    return found.base.joinpath(*parts)


def _enable_below(group: Path) -> None:
    """Make ``group`` (below the base) and enable memory and pids for its children."""
    if not group.is_dir():
        cgroupfs.make_group(NAME, group, exist_ok=True)
    if not _enabled(group) >= NEEDED:
        cgroupfs.set_exact(NAME, group / "cgroup.subtree_control", "+memory +pids")


def _kernel_features() -> str:
    version = _kernel_version()
    kill = "cgroup.kill" if version >= (5, 14) else "freeze+kill loop (cgroup.kill needs 5.14)"
    peak = "memory.peak" if version >= (5, 19) else "sampled memory (memory.peak needs 5.19)"
    return f"kernel {'.'.join(map(str, version))}: {kill}, {peak}"


def _kernel_version() -> tuple[int, int]:
    release = os.uname().release.split("-")[0].split(".")
    try:
        return int(release[0]), int(release[1])
    except (IndexError, ValueError):
        return (0, 0)


BACKEND = Cgroup2Backend
