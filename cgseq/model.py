"""The data a job is made of and what comes back from it."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class TerminationReason(enum.Enum):
    """Why a job ended. The first reason recorded wins."""

    EXITED = "exited"  # the job's main process exited on its own
    SIGNALED = "signaled"  # killed by a signal cgseq did not send
    MEMORY = "memory"  # over the memory limit (kernel OOM kill or poll breach)
    PIDS = "pids"  # over the process-count limit
    TIMEOUT = "timeout"  # --timeout ran out
    INTERRUPTED = "interrupted"  # cgseq got SIGINT/SIGTERM/SIGHUP and passed it on
    NOT_FOUND = "not-found"  # command not found (127)
    NOT_EXECUTABLE = "not-executable"  # command not executable (126)
    FAILED = "cgseq-failure"  # cgseq itself failed (125)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one job; ``None`` means unlimited."""

    memory: int | None = None  # bytes, whole job tree
    swap: int | None = 0  # bytes of swap on top of memory (kernel backends); None = unlimited
    pids: int | None = None  # processes/tasks in the job tree
    timeout: float | None = None  # seconds of wall time
    kill_grace: float = 5.0  # seconds between SIGTERM and SIGKILL

    def any_resource_limit(self) -> bool:
        return self.memory is not None or self.pids is not None


@dataclass(frozen=True)
class JobSpec:
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


@dataclass
class Usage:
    """What a job used, as its backend measured it."""

    peak_memory: int | None = None  # bytes
    peak_pids: int | None = None
    memory_now: int | None = None


@dataclass(frozen=True)
class Breach:
    """A limit the job crossed, with the one line that explains it."""

    reason: TerminationReason
    detail: str


@dataclass
class JobResult:
    """The outcome of one job (all attempts); serialises to JSON."""

    argv: list[str]
    cwd: str
    project: str
    backend: str
    limits: dict[str, Any]
    enforcement: dict[str, str]
    exit_code: int
    reason: TerminationReason
    detail: str | None = None
    queue_wait: float = 0.0
    duration: float = 0.0
    attempts: int = 1
    peak_memory: int | None = None
    peak_pids: int | None = None
    leftovers_killed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["reason"] = self.reason.value
        return data
