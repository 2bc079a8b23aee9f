"""The queue's records, typed, with their JSON in one place.

A *ticket* says who waits (or holds the turn); the *holder record* says which job runs
with the turn and how its backend can find it again after a crash. Both are files in the
state dir: data that anyone with write access there could have written. So reading never
trusts a field's type and never raises: a field of the wrong type reads as ``None``, and a
record that cannot be read at all (not JSON, or written by a newer cgseq in a format this
one does not know) comes back with ``problem`` saying so, for its reader to show or refuse.

Each record carries its format as ``"v"``. A record without one is from the cgseq before
formats were numbered, with the same fields: it reads as format 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from cgseq.model import Limits

FORMAT = 1  # the newest record format this cgseq reads and the one it writes

Check = Callable[[object], Any]


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    number = _int(value) if not isinstance(value, float) else value
    return float(number) if number is not None else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _argv(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(arg, str) for arg in value):
        return tuple(value)
    return None


def _object(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _texts(value: object) -> dict[str, str] | None:
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return value
    return None


_LIMIT_FIELDS: dict[str, Check] = {
    "memory": _int,
    "swap": _int,
    "pids": _int,
    "timeout": _float,
    "kill_grace": _float,
}


def _limits(value: object) -> Limits | None:
    if not isinstance(value, dict):
        return None
    given = {name: check(value.get(name)) for name, check in _LIMIT_FIELDS.items()}
    if given["kill_grace"] is None:
        del given["kill_grace"]
    return Limits(**given)


def _problem(data: object) -> str | None:
    if not isinstance(data, dict):
        return "not a cgseq record (no JSON object)"
    version = data.get("v", 1)
    if _int(version) is None:
        return f"not a cgseq record (format {version!r})"
    if version > FORMAT:
        return f"written by a newer cgseq (record format {version}; this one reads up to {FORMAT})"
    return None


def _decode(raw: bytes, fields: Mapping[str, Check]) -> dict[str, Any]:
    """Each field checked (``None`` when absent or mistyped), the record's format, and why
    the record is unusable (``problem``)."""
    try:
        data: object = json.loads(raw)
    except ValueError:
        data = None
    problem = _problem(data)
    if problem is not None or not isinstance(data, dict):
        version = _int(data.get("v")) if isinstance(data, dict) else None
        return dict.fromkeys(fields) | {"format": version, "problem": problem}
    decoded = {name: check(data.get(name)) for name, check in fields.items()}
    return decoded | {"format": data.get("v", 1), "problem": None}


def _plain(fields: Mapping[str, object]) -> dict[str, object]:
    data: dict[str, object] = {"v": FORMAT}
    for name, value in fields.items():
        data[name] = value._asdict() if isinstance(value, Limits) else value
    return data


class TicketRecord(NamedTuple):
    """One queued (or holding) job, as its ticket describes it."""

    pid: int | None = None  # the cgseq process that waits
    argv: tuple[str, ...] | None = None
    cwd: str | None = None
    since: float | None = None  # wall clock when it queued
    job_id: str | None = None  # where it is cheap to make before the turn (Linux)
    lock: str | None = None  # the named lock it queues for; None: its project
    key: str = ""  # the ticket's place in the queue (its file name); not in the JSON
    format: int | None = FORMAT  # as read; always FORMAT when written
    problem: str | None = None  # why the record could not be read, if it could not

    def to_dict(self) -> dict[str, object]:
        return _plain({name: getattr(self, name) for name in _TICKET_FIELDS})

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict()).encode()

    @classmethod
    def from_json(cls, raw: bytes, key: str = "") -> TicketRecord:
        return cls(**_decode(raw, _TICKET_FIELDS), key=key)


_TICKET_FIELDS: dict[str, Check] = {
    "pid": _int,
    "argv": _argv,
    "cwd": _str,
    "since": _float,
    "job_id": _str,
    "lock": _str,
}


class HolderRecord(NamedTuple):
    """The job that holds the turn: who supervises it, and what its backend made."""

    pid: int | None = None  # the supervisor (the cgseq process holding the turn)
    job_pid: int | None = None  # the job's first process
    job_id: str | None = None
    argv: tuple[str, ...] | None = None
    cwd: str | None = None
    since: float | None = None  # wall clock when the job started
    backend: str | None = None
    record: dict[str, Any] | None = None  # the backend's own record (Backend.reap reads it)
    limits: Limits | None = None
    peak_memory: int | None = None  # bytes; the usage figures are refreshed while it runs
    memory_now: int | None = None
    peak_pids: int | None = None
    pids_now: int | None = None
    enforcement: dict[str, str] | None = None  # limit -> how ("kernel: memory.max")
    lock: str | None = None  # the named lock it holds; None: its project
    format: int | None = FORMAT  # as read; always FORMAT when written
    problem: str | None = None  # why the record could not be read, if it could not

    @property
    def newer(self) -> bool:
        """Written by a newer cgseq: only that cgseq knows what it names."""
        return self.format is not None and self.format > FORMAT

    def to_dict(self) -> dict[str, object]:
        return _plain({name: getattr(self, name) for name in _HOLDER_FIELDS})

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict()).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> HolderRecord:
        return cls(**_decode(raw, _HOLDER_FIELDS))


_HOLDER_FIELDS: dict[str, Check] = {
    "pid": _int,
    "job_pid": _int,
    "job_id": _str,
    "argv": _argv,
    "cwd": _str,
    "since": _float,
    "backend": _str,
    "record": _object,
    "limits": _limits,
    "peak_memory": _int,
    "memory_now": _int,
    "peak_pids": _int,
    "pids_now": _int,
    "enforcement": _texts,
    "lock": _str,
}
