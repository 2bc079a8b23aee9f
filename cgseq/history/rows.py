"""The row written for a finished job: what ``record()`` inserts, and what an old
``history.jsonl`` line becomes. Imported when a job has ended: nothing heavy.

The table's columns are in :mod:`cgseq.history.schema`; lists and objects are JSON text.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, NamedTuple

from cgseq.model import TerminationReason
from cgseq.result import JobResult

if TYPE_CHECKING:
    from cgseq.history.timeline import Timeline


class Extras(NamedTuple):
    """What a finished job's record holds besides its :class:`~cgseq.result.JobResult`."""

    timeline: Timeline | None = None
    psi: Mapping[str, int] | None = None  # {"some": usec, "full": usec}
    lock: str | None = None
    started: float | None = None  # wall clock; None: now minus the duration


def command_of(argv: Sequence[str]) -> str:
    """A command as shown and grouped: ``python -m pytest`` for ``/usr/bin/python -m pytest``."""
    return shlex.join([os.path.basename(argv[0]), *argv[1:]]) if argv else ""


def row_of(result: JobResult, extras: Extras, recorded: float) -> dict[str, Any]:
    """The ``jobs`` row of a finished job (every column but ``id``)."""
    started = extras.started
    psi = extras.psi or {}
    return {
        "job_id": result.job_id,
        "recorded": recorded,
        "started": started,
        "argv": _json(result.argv),
        "command": command_of(result.argv),
        "cwd": result.cwd,
        "project": result.project,
        "lock": extras.lock,
        "backend": result.backend,
        "limits": _json(result.limits),
        "enforcement": _json(result.enforcement),
        "queue_wait": result.queue_wait,
        "duration": result.duration,
        "exit_code": result.exit_code,
        "reason": result.reason.value,
        "detail": result.detail,
        "attempts": result.attempts,
        "peak_memory": result.peak_memory,
        "peak_pids": result.peak_pids,
        "timeline": _json(extras.timeline.to_json()) if extras.timeline else None,
        "psi_some_usec": psi.get("some"),
        "psi_full_usec": psi.get("full"),
        "warnings": _json(result.warnings),
        "extra": _json(
            {"leftovers_killed": result.leftovers_killed, "shm_files": result.shm_files}
        ),
    }


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


# what each field of an old history.jsonl line must be, to be taken
_LEGACY_TYPES: dict[str, type | tuple[type, ...]] = {
    "argv": list,
    "cwd": str,
    "project": str,
    "backend": str,
    "limits": dict,
    "enforcement": dict,
    "exit_code": int,
    "queue_wait": (int, float),
    "duration": (int, float),
    "attempts": int,
    "warnings": list,
    "job_id": str,
}


def legacy_row(data: Mapping[str, Any], recorded: float) -> dict[str, Any] | None:
    """The row of one ``history.jsonl`` line (``JobResult.to_json()``); None if it is not one."""
    known = {f.name for f in fields(JobResult)} - {"stdout", "stderr"}
    given = {name: value for name, value in data.items() if name in known}
    for name, kind in _LEGACY_TYPES.items():
        if name in given and not isinstance(given[name], kind):
            return None
    try:
        given["reason"] = TerminationReason(given.get("reason"))
        result = JobResult(**given)
    except (TypeError, ValueError):  # a field missing, or a reason this cgseq does not know
        return None
    if not result.argv or not all(isinstance(arg, str) for arg in result.argv):
        return None
    return row_of(result, Extras(), recorded)
