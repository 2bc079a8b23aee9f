"""A run nested in a cgseq job of the same slot: no queue, the same turn and limits.

Only its own timeout and limits apply on top, sampled by the backend that nests
(:func:`cgseq.backends.for_nested`): it runs inside the enclosing job's group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cgseq import backends
from cgseq.model import JobSpec
from cgseq.pipeline.job import Job, Notice
from cgseq.pipeline.nesting import Enclosing
from cgseq.project import Slot

if TYPE_CHECKING:
    from cgseq.result import JobResult
    from cgseq.supervise.spawn import Output


def run_inline(
    spec: JobSpec,
    slot: Slot,
    cwd: str,
    notice: Notice,
    output: Output | None,
    enclosing: Enclosing,
) -> JobResult:
    job = Job(spec, slot, None, cwd, notice, output)
    backend = backends.for_nested()
    job.candidates = [(backend, backend.probe())]
    ignored = _ignored_backend(spec.backend, enclosing)
    if ignored:
        notice(f"warning: {ignored}")
    result = job.run_attempts()
    result.warnings[:0] = [ignored] if ignored else []
    return result


def _ignored_backend(named: str, enclosing: Enclosing) -> str | None:
    """A named backend a nested run cannot use: it runs inside the enclosing job's group.

    A warning, not a refusal: the enclosing job's limits still hold, and a script that names
    a backend should still work when it is run under cgseq.
    """
    if named in ("auto", enclosing.backend):
        return None
    return (
        f"--backend {named} not used: this run is nested in job {enclosing.job_id} "
        f"(backend {enclosing.backend}) and shares its turn and limits; "
        f"its own limits are sampled by {backends.for_nested().name}"
    )
