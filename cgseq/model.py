"""The data a job is made of. NamedTuples, not dataclasses: a queued waiter builds these
before it holds its turn, and ``dataclasses`` costs ~5 ms of import plus ~0.5 ms a class.
The result of a job lives in :mod:`cgseq.result`, imported only once the job has run.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class TerminationReason(enum.Enum):
    """Why a job ended. The first reason recorded wins."""

    EXITED = "exited"  # the job's main process exited on its own
    SIGNALED = "signaled"  # killed by a signal cgseq did not send
    MEMORY = "memory"  # over the memory limit (kernel OOM kill or poll breach)
    PIDS = "pids"  # over the process-count limit
    TIMEOUT = "timeout"  # --timeout ran out
    INTERRUPTED = "interrupted"  # cgseq got SIGINT/SIGTERM/SIGHUP and passed it on
    KILLED = "killed"  # stopped by `cgseq kill`, as a timeout stops a job
    NOT_FOUND = "not-found"  # command not found (127)
    NOT_EXECUTABLE = "not-executable"  # command not executable (126)


class Limits(NamedTuple):
    """Resource limits of one job; ``None`` means unlimited."""

    memory: int | None = None  # bytes, whole job tree
    swap: int | None = 0  # bytes of swap on top of memory (kernel backends); None = unlimited
    pids: int | None = None  # processes/tasks in the job tree
    timeout: float | None = None  # seconds of wall time
    kill_grace: float = 5.0  # seconds between SIGTERM and SIGKILL

    def any_resource_limit(self) -> bool:
        return self.memory is not None or self.pids is not None


class JobSpec(NamedTuple):
    """A command plus its limits and how to supervise it."""

    argv: tuple[str, ...]
    limits: Limits = Limits()
    cwd: str | None = None
    env: dict[str, str] | None = None  # None: inherit cgseq's environment
    backend: str = "auto"
    lock: str | None = None  # named slot instead of the project's
    wait_timeout: float | None = None
    leftovers: str = "kill"  # kill | wait | keep
    retry: int = 0
    poll_interval: float = 0.1
    record: bool = True  # append to history and event log
    memory_warn_share: float | None = 0.8  # one line when the job reaches this much of --memory


class Usage:
    """What a job used, as its backend measured it (bytes, process counts)."""

    __slots__ = ("memory_now", "peak_memory", "peak_pids", "pids_now", "shm_files")

    def __init__(
        self,
        peak_memory: int | None = None,
        peak_pids: int | None = None,
        memory_now: int | None = None,
        pids_now: int | None = None,
    ) -> None:
        self.peak_memory = peak_memory
        self.peak_pids = peak_pids
        self.memory_now = memory_now
        self.pids_now = pids_now
        self.shm_files: list[str] = []  # poll: tmpfs files a kill left behind or removed

    def __repr__(self) -> str:
        return (
            f"Usage(peak_memory={self.peak_memory}, peak_pids={self.peak_pids}, "
            f"memory_now={self.memory_now}, pids_now={self.pids_now})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Usage) and repr(self) == repr(other)

    __hash__ = None  # type: ignore[assignment]


class Breach(NamedTuple):
    """A limit the job crossed, with the one line that explains it."""

    reason: TerminationReason
    detail: str
