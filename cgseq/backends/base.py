"""The one protocol every backend implements.

A backend turns a job's :class:`~cgseq.model.Limits` into enforcement. The supervisor
drives it the same way for every backend:

1. ``Backend.probe()`` says whether it can run here, what it enforces and how to fix
   what it cannot (``cgseq doctor`` prints exactly this).
2. ``Backend.open_group(spec, job_id)`` creates the job's group (a cgroup, a scope,
   or a tracked process tree) *before* the job exists.
3. The supervisor forks the job's first process and holds it on a pipe;
   ``JobGroup.place(pid)`` moves it into the group and reads the limits back
   (a limit that did not take raises :class:`~cgseq.errors.BackendUnavailable`);
   only then is the process released to exec the user's command.
4. While the job runs the supervisor calls ``JobGroup.sample()`` every
   ``JobGroup.poll_interval`` seconds (``None``: the kernel enforces, no sampling needed);
   a returned :class:`~cgseq.model.Breach` makes the supervisor kill the job.
5. ``signal()`` / ``kill()`` reach every process of the job, ``is_empty()`` says when
   the last one is gone, ``termination()`` reads the kernel's verdict (OOM kill, pids max)
   and ``close()`` removes the group.

``JobGroup.record()`` is JSON that lets ``Backend.reap(record)`` find and kill the
group again if its supervisor died (SIGKILL) mid-job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Protocol

from cgseq.model import Breach, JobSpec, Usage

# Limit names a backend may enforce, as keys of Availability.enforces / JobGroup.enforced().
MEMORY = "memory"
SWAP = "swap"
PIDS = "pids"
TRACKING = "tracking"  # finds every descendant, double-forked daemons included


@dataclass(frozen=True)
class Availability:
    """What ``probe()`` found: usable or not, why, the fix, and what it enforces how."""

    backend: str
    available: bool
    reason: str  # what it uses when available, why not otherwise
    fix: str | None = None  # the exact fix when unavailable or partial
    enforces: Mapping[str, str] = field(default_factory=dict)  # limit -> "kernel: memory.max"
    kernel: bool = False  # limits are enforced by the kernel, not by sampling
    root_jobs: str | None = None  # what a job running as root can still do to its limits


class Capabilities(NamedTuple):
    """What a backend can do, declared by its class: the pipeline asks these, never a name."""

    # The group is opened only once the turn is held, never ahead of it by the waiter next
    # in line: probing and opening it need what a waiter must not import (pystemd, a bus).
    opens_group_at_turn: bool = False
    # Tracks a job's processes by sampling, even inside another job's group: what a run
    # nested in a cgseq job uses for its own limits.
    nests: bool = False


class JobGroup(Protocol):
    """The processes of one job, as a backend tracks and limits them."""

    poll_interval: float | None
    # The group is a cgroup v2 group: a root job then starts in a new cgroup namespace
    # rooted at it, so (v2 mounted with nsdelegate) it cannot move itself out of it.
    cgroup_namespace: bool

    def place(self, pid: int) -> None:
        """Move the held first process into the group and verify every requested limit."""

    def enforced(self) -> dict[str, str]:
        """Limit name -> how it is enforced for this job (after ``place``)."""

    def sample(self) -> Breach | None:
        """Measure usage, track peaks; a Breach means: kill the job for this reason."""

    def usage(self) -> Usage:
        """Peak memory and processes seen so far, and memory now."""

    def pressure(self) -> dict[str, int] | None:
        """Memory pressure (PSI) totals, ``{"some": usec, "full": usec}``, where the kernel
        keeps them per group (cgroup v2); None elsewhere. Read before ``close()``."""

    def pids(self) -> list[int]:
        """The job's live processes (best effort, for messages and status)."""

    def signal(self, signum: int) -> None:
        """Send ``signum`` to every process of the job."""

    def kill(self) -> None:
        """SIGKILL every process of the job, atomically where the kernel allows."""

    def is_empty(self) -> bool:
        """True when no process of the job is left (zombies reaped by the supervisor)."""

    def termination(self) -> Breach | None:
        """The kernel's reason for the end of the job (OOM kill, pids max), if any."""

    def record(self) -> dict[str, Any]:
        """JSON that lets ``Backend.reap`` find this group after a supervisor crash."""

    def close(self) -> None:
        """Remove the group. Only called once the group is empty."""

    def detach(self) -> None:
        """``--leftovers keep``: the supervisor leaves while the group's processes run on.

        Afterwards the group must not look like a dead supervisor's orphan (every cgseq
        on the machine kills those), and it must go away once empty.
        """


class Backend(Protocol):
    """A way to enforce limits; one module per backend under ``cgseq.backends``."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def may_run_here(self) -> bool:
        """Could ``probe()`` find it available? Cheap checks only, no heavy import."""

    def probe(self) -> Availability:
        """Can this backend run here, what does it enforce, and how to fix what it cannot."""

    def open_group(self, spec: JobSpec, job_id: str) -> JobGroup:
        """Create the job's (empty) group. Raises BackendUnavailable."""

    def reap(self, record: Mapping[str, Any]) -> list[str]:
        """Kill and remove what a dead supervisor left; returns one line per thing killed.

        Only ever touches what ``record`` (written by this backend) names.
        """
