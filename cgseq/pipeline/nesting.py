"""Nested runs: ``cgseq run`` inside a running job shares that job's turn and limits.

A run is nested when the supervisor that the slot's holder record names is alive (its pid
runs with the start its job id records, see :mod:`cgseq.jobids`) and is an ancestor of
this process. That is ancestry, not environment: tox, sudo and ``env -i`` scrub the
environment, and a copied environment (a stale shell) proves nothing. Only /proc reads of
the ancestor chain on Linux (:func:`cgseq.procfs.parent`), no psutil: every ``cgseq run``
asks this before it queues.

The job's environment still carries ``CGSEQ_TURN=<slot>:<supervisor pid>:<job id>``, for
the job's own information; it is not what decides.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from cgseq import jobids, procfs
from cgseq.queue import slots

ENV = "CGSEQ_TURN"


class Enclosing(NamedTuple):
    """The running job a nested run is part of."""

    job_id: str
    backend: str


def token(slot_key: str, job_id: str) -> str:
    return f"{slot_key}:{os.getpid()}:{job_id}"


class Token(NamedTuple):
    """What ``CGSEQ_TURN`` says: the slot, the supervisor holding it, the job."""

    slot_key: str
    supervisor: int
    job_id: str


def parse(text: str) -> Token | None:
    """``KEY:SUPERVISOR_PID:JOB_ID`` as :func:`token` writes it (keys and ids hold no ``:``)."""
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not all(parts) or not parts[1].isdecimal():
        return None
    return Token(parts[0], int(parts[1]), parts[2])


def enclosing_job(slot_key: str) -> Enclosing | None:
    """The live job holding this slot when this process runs inside it, else None."""
    holder = slots.holder_of(slot_key)
    if holder is None:
        return None
    supervisor, job_id = holder.pid, holder.job_id
    if supervisor is None or job_id is None:
        return None
    parsed = jobids.parse(job_id)
    if parsed is None or parsed.pid != supervisor or not is_ancestor(supervisor):
        return None
    found = Enclosing(job_id, holder.backend or "")
    if parsed.start is None:  # an older cgseq's job id: its token in our environment vouches
        return found if os.environ.get(ENV) == f"{slot_key}:{supervisor}:{job_id}" else None
    # the start must match: a stale record's pid may since have been reused by an ancestor
    return found if jobids.supervisor_verified(job_id) else None


def is_ancestor(pid: int) -> bool:
    current = os.getppid()
    for _ in range(256):  # a deeper chain is not a real process tree
        if current == pid:
            return True
        if current <= 1:
            return False
        parent = procfs.parent(current)
        if parent is None:
            return False
        current = parent
    return False
