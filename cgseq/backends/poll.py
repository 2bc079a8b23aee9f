"""The portable backend: psutil sampling of the job's process tree, killpg on a breach.

Works wherever psutil does (Linux, macOS, containers without cgroup access). Limits are
checked every ``poll_interval`` (default 100 ms, down to 10 ms near a limit), so a fast
allocator can overshoot by what it allocates in one interval; the kernel backends have no
such window. On Linux it counts what the kernel's controllers count (see ``DIFFERENCES``
and the README's "How the backends differ"): tasks, not processes, under ``--pids``;
anonymous memory plus tmpfs files held, not RSS, under ``--memory``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from cgseq.backends.base import MEMORY, PIDS, TRACKING, Availability, Capabilities
from cgseq.errors import BackendUnavailable
from cgseq.model import Breach, JobSpec, TerminationReason, Usage
from cgseq.units import format_size

if TYPE_CHECKING:
    from cgseq.procscan import Proc

FLOOR = 0.01  # seconds: the fastest sampling, near a limit (cf. the 10 ms --poll-interval floor)
NEAR, NEARER = 0.5, 0.8  # shares of a limit above which sampling goes to interval/4, FLOOR
STOP_WAIT = 0.1  # seconds to wait for SIGSTOP to take before counting anyway (D state)
STOPPED = ("T", "t", "Z", "X")

LINUX_MEMORY = (
    "anonymous RSS of each process + tmpfs/shmem files held open or mapped "
    "(once per inode, allocated size)"
)
# How poll differs from the kernel backends (cgseq doctor prints these; README, Backends).
DIFFERENCES = {
    "overshoot": "by what the job allocates or forks between two samples, plus the kill",
    "timing": "every --poll-interval; interval/4 above 50% of a limit, 10 ms above 80%",
    "threads": "count as tasks, as in the pids controller",
    "file mmap": "shared file mappings are page cache: not counted (as in a memory cgroup)",
    "shm": "a kill names /dev/shm files left behind; removes only those surely the job's",
    "not seen": "page tables, kernel memory; copy-on-write pages count once per process",
}


class PollBackend:
    """Always available; enforces by sampling (not by the kernel)."""

    name: ClassVar[str] = "poll"
    capabilities: ClassVar[Capabilities] = Capabilities(nests=True)

    def may_run_here(self) -> bool:
        return True

    def probe(self) -> Availability:
        tracking = "descendants (child subreaper)" if _linux() else "descendants + job id"
        return Availability(
            self.name,
            True,
            "sampling of the job's process tree "
            + ("(/proc children files)" if _linux() else "(psutil)"),
            enforces={
                MEMORY: "poll: " + (LINUX_MEMORY if _linux() else "total RSS of the tree"),
                PIDS: "poll: tasks (processes + threads); nothing is refused, the job is killed",
                TRACKING: tracking,
                **DIFFERENCES,
            },
        )

    def open_group(self, spec: JobSpec, job_id: str) -> PollGroup:
        return PollGroup(spec, job_id)

    def reap(self, record: Mapping[str, Any]) -> list[str]:
        """What a dead job left; the record is untrusted, so each process is verified."""
        from cgseq import jobids, proctree

        try:
            job_id, started, pgid = proctree.record_fields(record)
        except ValueError as exc:
            raise BackendUnavailable(self.name, f"{exc}: untouched") from None
        if jobids.supervisor_alive(job_id):  # a live supervisor still owns its job
            return []
        killed = proctree.reap_dead_job(job_id, pgid, started)
        return [f"killed {killed} left by dead job {job_id}"] if killed else []


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
        self.cgroup_namespace = False  # no cgroup to root a namespace at
        self.base_interval = self.poll_interval  # poll_interval shrinks near a limit
        self._scanner: Any = None  # a procscan.ProcScanner on Linux, False where unsupported
        self._ledger: Any = None  # a tmpfs_ledger.Ledger on Linux, False where unsupported
        self._settled = False  # the job was stopped, counted and its tmpfs files settled
        self._last = (0, 0)  # (memory, tasks) at the previous sample
        self._samples = 0

    def place(self, pid: int) -> None:
        self.pgid = pid  # spawn_held made the child a process-group leader

    def enforced(self) -> dict[str, str]:
        result = {}
        every = f"poll every {self.base_interval:g}s, faster near the limit"
        if self.limits.memory is not None:
            result[MEMORY] = f"{every} (anonymous RSS + tmpfs files held)"
        if self.limits.pids is not None:
            result[PIDS] = f"{every} (tasks: processes and their threads)"
        return result

    def sample(self) -> Breach | None:
        procs = self._processes()
        memory, tasks = self._measure(procs)
        self._record(memory, tasks)
        self._adapt(memory, tasks)
        reason = self._over(memory, tasks)
        if reason is None:
            return None
        self._settle()  # stop the job at once, count it still, settle its tmpfs files
        return Breach(reason, self._detail(reason, procs, memory, tasks) + self._tmpfs_note())

    def _processes(self, dead: bool = False) -> list[Proc]:
        """Every process of the job (with zombies if ``dead``), as one pass reads them."""
        if self._scanner is None:
            from cgseq import procscan
            from cgseq.backends import tmpfs_ledger

            supported = procscan.supported()
            self._scanner = procscan.ProcScanner(anon=True) if supported else False
            self._ledger = tmpfs_ledger.Ledger(self.limits.memory) if supported else False
        if self._scanner:
            return list(self._scanner.processes(dead))
        from cgseq import proctree

        return [_proc(p) for p in proctree.descendants()]

    def _measure(self, procs: list[Proc]) -> tuple[int, int]:
        """(memory, tasks) as the kernel's memory and pids controllers would charge them."""
        tmpfs = self._ledger.total([p.pid for p in procs]) if self._ledger else 0
        return sum(p.anon for p in procs) + tmpfs, sum(p.tasks for p in procs)

    def _record(self, memory: int, tasks: int) -> None:
        self._usage.memory_now = memory
        self._usage.pids_now = tasks
        self._usage.peak_memory = max(self._usage.peak_memory or 0, memory)
        self._usage.peak_pids = max(self._usage.peak_pids or 0, tasks)

    def _adapt(self, memory: int, tasks: int) -> None:
        """Sample faster the nearer usage is to a limit: overshoot shrinks, idle CPU does not
        grow. The share of a limit is what usage will be at the next sample if it grows as
        it did since the last one; above NEAR of a limit sample every interval/4, above
        NEARER every FLOOR seconds. A job starts at FLOOR and doubles up to the interval
        (a fork loop or an allocator is fastest at start-up); never slower than asked for.
        """
        if self.base_interval is None:
            return
        last_memory, last_tasks = self._last
        self._last = (memory, tasks)
        share = max(
            _share(2 * memory - min(memory, last_memory), self.limits.memory),
            _share(2 * tasks - min(tasks, last_tasks), self.limits.pids),
        )
        interval = min(self.base_interval, FLOOR * 2 ** min(self._samples, 16))
        self._samples += 1
        if share > NEARER:
            interval = min(interval, FLOOR)
        elif share > NEAR:
            interval = min(interval, max(FLOOR, interval / 4))
        self.poll_interval = interval

    def _over(self, memory: int, tasks: int) -> TerminationReason | None:
        if self.limits.pids is not None and tasks > self.limits.pids:
            return TerminationReason.PIDS
        if self.limits.memory is not None and memory > self.limits.memory:
            return TerminationReason.MEMORY
        return None

    def _detail(self, reason: TerminationReason, procs: list[Proc], memory: int, tasks: int) -> str:
        if reason is TerminationReason.MEMORY:
            return self._memory_detail(memory, procs)
        return f"{tasks} tasks over limit {self.limits.pids} ({len(procs)} processes with threads)"

    def _memory_detail(self, total: int, procs: list[Proc]) -> str:
        from cgseq import procfs

        largest = max(procs, key=lambda p: p.anon, default=None)
        biggest = (
            f"largest: {procfs.name(largest.pid)} pid {largest.pid}, {format_size(largest.anon)}"
            if largest is not None
            else "no process"
        )
        files = self._ledger.largest() if self._ledger else []
        held = "".join(f"; {f.name} {format_size(f.size)}" for f in files if f.size)
        return (
            f"memory {format_size(total)} over limit {format_size(self.limits.memory)} "
            f"({biggest}{held})"
        )

    def _settle(self) -> None:
        """Once, before the first kill: stop every job process (SIGSTOP), count the still
        tree (zombies too: they still hold their pids), and settle its tmpfs files.

        A count taken while the job still forks would trail what the job had; a stopped
        tree cannot grow (a fork with a group-wide signal pending is restarted).
        """
        if self._settled or not self._scanner:
            return
        self._settled = True
        self._stop()
        procs = self._processes(dead=True)
        self._record(*self._measure(procs))
        self._usage.shm_files = self._ledger.settle([p.pid for p in procs])

    def _stop(self) -> None:
        if self.pgid is not None:  # first, and without importing psutil: the job may fork fast
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, signal.SIGSTOP)
        from cgseq import proctree

        proctree.signal_all(proctree.descendants(), signal.SIGSTOP)  # who left the group
        end = time.monotonic() + STOP_WAIT
        while time.monotonic() < end and any(
            p.state not in STOPPED for p in self._processes(dead=True)
        ):
            time.sleep(0.002)

    def _tmpfs_note(self) -> str:
        """The tmpfs files the kill leaves (or removed), for the reason line."""
        lines = self._usage.shm_files or []
        return f"; tmpfs: {', '.join(lines)}" if lines else ""

    def usage(self) -> Usage:
        return self._usage

    def pressure(self) -> dict[str, int] | None:
        return None  # a process tree has no pressure of its own

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

        self._settle()
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


def _proc(process: Any) -> Proc:
    """Where /proc children files are missing (macOS): RSS, not anonymous memory."""
    from cgseq.procscan import Proc

    try:
        with process.oneshot():
            rss, tasks = int(process.memory_info().rss), int(process.num_threads())
    except Exception:
        rss, tasks = 0, 1
    return Proc(process.pid, "R", tasks, rss, rss)


def _share(used: int, limit: int | None) -> float:
    return used / limit if limit else 0.0


BACKEND = PollBackend
