"""cgseq — run commands one at a time per project, under kernel-enforced limits.

Vocabulary, fixed once:

- a *job* is a command plus its limits (:class:`JobSpec`, :class:`Limits`);
- a *turn* is exclusive use of a project's slot; the *holder* has the turn and
  *waiters* queue behind it in arrival order;
- a *backend* enforces limits on a job's processes (systemd scope, cgroup v2,
  cgroup v1, or psutil polling);
- a job's *group* is the set of processes a backend tracks for one job;
- a *slot* is what a turn is for: a project (its root directory) or a named ``--lock``;
- a *ticket* is a waiter's (or the holder's) place in a slot's queue, and the *holder
  record* names the running job, so that the next holder can reap it if its supervisor
  died (both in :mod:`cgseq.queue`);
- the *pipeline* (:mod:`cgseq.pipeline`) takes one job from its ticket to its result.

Folders: ``queue/`` (state on disk), ``pipeline/`` (one job), ``backends/`` (enforcement),
``supervise/`` (processes and signals), ``commands/`` (the CLI).

The front door re-exports what library users need; attribute access is lazy so
that ``import cgseq`` stays cheap on the hot path of a queued waiter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "CgseqError",
    "JobFailed",
    "JobResult",
    "JobSpec",
    "Limits",
    "TerminationReason",
    "UsageError",
    "WaitTimeout",
    "__version__",
    "run",
]

_LAZY = {
    "JobFailed": "cgseq.job_failed",
    "JobResult": "cgseq.result",
    "JobSpec": "cgseq.model",
    "Limits": "cgseq.model",
    "TerminationReason": "cgseq.model",
    "BackendUnavailable": "cgseq.errors",
    "CgseqError": "cgseq.errors",
    "UsageError": "cgseq.errors",
    "WaitTimeout": "cgseq.errors",
    "run": "cgseq.library",
}

if TYPE_CHECKING:
    from cgseq.errors import BackendUnavailable, CgseqError, UsageError, WaitTimeout
    from cgseq.job_failed import JobFailed
    from cgseq.library import run
    from cgseq.model import JobSpec, Limits, TerminationReason
    from cgseq.result import JobResult


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cgseq' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
