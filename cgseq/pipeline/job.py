"""One job's attempts: prepared ahead of the turn where its backend allows, then supervised.

What can be done before the turn (imports, backend choice, group, the first process held on
a pipe) is done in :meth:`Job.prepare` by the waiter next in line, so that the hand-off is
only "take the slot, release the child".
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from cgseq import jobids, procfs
from cgseq.errors import BackendUnavailable
from cgseq.model import JobSpec, TerminationReason, Usage
from cgseq.pipeline import nesting
from cgseq.project import Slot
from cgseq.queue import turns
from cgseq.queue.records import HolderRecord

if TYPE_CHECKING:
    from cgseq.backends.base import Availability, Backend, JobGroup
    from cgseq.pipeline.memory import MemoryLog
    from cgseq.result import JobResult
    from cgseq.supervise.signals import SignalPipe
    from cgseq.supervise.spawn import Output
    from cgseq.supervise.supervisor import Attempt, Supervisor

Notice = Callable[[str], None]


class Prepared(NamedTuple):
    """A job ready to be released: its backend, its (empty) group, its held first process."""

    backend: Backend
    group: JobGroup
    supervisor: Supervisor


class Job:
    """One job's attempts, in its turn (``turn``) or inline in an enclosing job's (None)."""

    def __init__(
        self,
        spec: JobSpec,
        slot: Slot,
        turn: turns.Turn | None,
        cwd: str,
        notice: Notice,
        output: Output | None = None,
    ) -> None:
        self.spec, self.slot, self.turn, self.cwd = spec, slot, turn, cwd
        self.notice, self.output = notice, output
        self.started = time.monotonic()
        self.candidates: list[tuple[Backend, Availability]] | None = None
        self.tty: int | None = None
        self.prepared: Prepared | None = None
        self.warnings: list[str] = []
        self.holder: HolderRecord | None = None
        self.memory: MemoryLog | None = None  # of the attempt that runs (or ran last)
        self.group: JobGroup | None = None
        self.pressure: dict[str, int] | None = None  # of the last attempt's group (PSI)

    @functools.cached_property
    def job_id(self) -> str:
        # made when first used (prepare, by the head waiter): where there is no /proc it
        # costs psutil's import, which a waiter further back must not pay
        return jobids.new_job_id()

    def event(self, event: str, **fields: object) -> None:
        """A line in cgseq's event log for this job (``cgseq logs``); never a failure."""
        if self.spec.record:
            from cgseq.eventlog import note

            known = self.__dict__.get("job_id") or self.early_id()  # never made just for this
            note(event, job_id=known, **fields)

    def early_id(self) -> str | None:
        """The job id where making it costs a waiter nothing (``/proc``), else None."""
        return self.job_id if procfs.LINUX else None

    def prepare(self, before_turn: bool = False) -> None:
        """Imports, backend choice, group and held first process, ahead of the turn.

        A backend that opens its group only at the turn is not even chosen before it: its
        probe may import what a waiter must not (pystemd).
        """
        from cgseq import backends, history
        from cgseq.pipeline import recovery
        from cgseq.supervise.signals import become_subreaper

        become_subreaper()
        turns.warm_up()
        history.warm_up()  # sqlite3, for the record after the job: imported ahead of the turn
        import cgseq.pipeline.memory  # noqa: F401  (the timeline, made when the job starts)

        self.tty = _terminal()
        if self.candidates is None:
            if before_turn and backends.opens_at_turn(self.spec.backend):
                return
            for line in recovery.orphan_groups():  # other dead supervisors' groups, any project
                self.notice(line)
            self.candidates = backends.candidates(self.spec.backend)
        first = self.candidates[0][0]
        if self.prepared is None and not first.capabilities.opens_group_at_turn:
            self.prepared = self._open()

    def discard(self) -> None:
        """The turn never came (or the job ended): drop a prepared, unused job."""
        if self.prepared is not None:
            prepared, self.prepared = self.prepared, None
            prepared.supervisor.abandon()
            _close_quietly(prepared.group, self.notice)

    def run_attempts(self) -> JobResult:
        from cgseq.supervise.signals import SignalPipe

        self.prepare()
        self.started = time.monotonic()  # the job's own duration: not its wait for the turn
        with SignalPipe().installed() as signals:
            attempts, result = 0, None
            while attempts <= self.spec.retry:
                attempts += 1
                result = self._attempt(signals, attempts)  # the supervisor reclaims the tty
                if not _should_retry(result):
                    break
        assert result is not None
        result.duration = time.monotonic() - self.started
        return result

    def _attempt(self, signals: SignalPipe, attempts: int) -> JobResult:
        backend, group, supervisor = self.prepared or self._open()
        self.prepared = None
        try:
            attempt = supervisor.run(signals)
        except BaseException:
            _close_quietly(group, self.notice)
            raise
        self.pressure = attempt.pressure
        if self.memory is not None:
            self.memory.ended(attempt.usage, attempt.reason is TerminationReason.MEMORY)
        result = self._result(backend.name, attempt, attempts)
        if self.turn is not None and (attempts > self.spec.retry or not _should_retry(result)):
            self.turn.release()  # the job is over and its group empty: next job, go
        if attempt.kept:
            group.detach()
        else:
            _close_quietly(group, self.notice)
        return result

    def _open(self) -> Prepared:
        """The first candidate backend whose group takes the held process and its limits."""
        assert self.candidates is not None
        for index, (backend, _availability) in enumerate(self.candidates):
            group = backend.open_group(self.spec, self.job_id)
            supervisor = self._supervisor(backend, group)
            try:
                supervisor.prepare()
            except BackendUnavailable as exc:
                _close_quietly(group, self.notice)
                if self.spec.backend != "auto" or index + 1 == len(self.candidates):
                    raise
                following = self.candidates[index + 1][0].name
                self.notice(f"warning: {exc}; falling back to {following}")
                continue
            return Prepared(backend, group, supervisor)
        raise BackendUnavailable(self.spec.backend, "no backend could run the job")

    def _supervisor(self, backend: Backend, group: JobGroup) -> Supervisor:
        from cgseq.supervise.supervisor import Hooks, Supervisor

        hooks = Hooks(
            started=functools.partial(self._started, backend=backend, group=group),
            tick=self._tick,
            warn=self._warn,
            kill_requested=self._kill_requested,
        )
        return Supervisor(self.spec, group, self._env(), self.tty, hooks, self.output)

    def _env(self) -> dict[str, str]:
        env = dict(self.spec.env if self.spec.env is not None else os.environ)
        env[procfs.JOB_ENV] = self.job_id
        if self.turn is not None:
            env[nesting.ENV] = nesting.token(self.slot.key, self.job_id)
        return env

    def _started(self, pid: int, backend: Backend, group: JobGroup) -> None:
        from cgseq.pipeline.memory import MemoryLog

        self.memory, self.group = MemoryLog(self.spec), group
        self.warnings = _unenforced(self.spec, backend.name, group.enforced())
        for warning in self.warnings:
            self.notice(f"warning: {warning}")
        if self.turn is None:
            return
        self.holder = HolderRecord(
            pid=os.getpid(),
            job_pid=pid,
            job_id=self.job_id,
            argv=self.spec.argv,
            cwd=self.cwd,
            since=time.time(),
            backend=backend.name,
            record=group.record(),
            limits=self.spec.limits,
            enforcement=group.enforced(),
            lock=self.spec.lock,
        )
        self.turn.write_holder(self.holder)
        self.event(
            "job.limits",
            backend=backend.name,
            limits=self.spec.limits._asdict(),
            enforced=group.enforced(),
            warnings=list(self.warnings),
        )

    def _kill_requested(self) -> str | None:
        by = self.turn.take_note("kill") if self.turn is not None else None
        if by is None:
            return None
        self.event("job.kill_requested", by=by)
        return f"cgseq kill from pid {by}"

    def _warn(self, line: str) -> None:
        self.event("job.warning", line=line)
        self.warnings.append(line)
        self.notice(f"warning: {line}")

    def _tick(self, usage: Usage) -> None:
        if self.memory is not None and self.group is not None:
            line = self.memory.sample(usage, self.group.pids)
            if line is not None:  # "cgseq: pytest at 1.6G of 2G (80%); largest: ..."
                self.event("job.memory_warning", line=line)
                self.warnings.append(line)  # recorded with the job
                self.notice(line)
        if self.turn is not None and self.holder is not None:
            self.holder = self.holder._replace(
                peak_memory=usage.peak_memory,
                memory_now=usage.memory_now,
                peak_pids=usage.peak_pids,
                pids_now=usage.pids_now,
            )
            self.turn.write_holder(self.holder)

    def _result(self, backend: str, attempt: Attempt, attempts: int) -> JobResult:
        from cgseq.result import JobResult

        return JobResult(
            argv=list(self.spec.argv),
            cwd=self.cwd,
            project=self.slot.project,
            backend=backend,
            limits=self.spec.limits._asdict(),
            enforcement=attempt.enforcement,
            exit_code=attempt.exit_code,
            reason=attempt.reason,
            detail=attempt.detail,
            attempts=attempts,
            peak_memory=attempt.usage.peak_memory,
            peak_pids=attempt.usage.peak_pids,
            leftovers_killed=attempt.leftovers,
            shm_files=list(attempt.usage.shm_files),
            warnings=list(self.warnings),
            job_id=self.job_id,
        )


def _unenforced(spec: JobSpec, backend: str, enforced: dict[str, str]) -> list[str]:
    """A requested limit the backend does not enforce, or enforces only by sampling."""
    requested = {"memory": spec.limits.memory, "pids": spec.limits.pids}
    lines = []
    for limit, value in requested.items():
        how = enforced.get(limit)
        if value is not None and how is None:
            lines.append(f"--{limit} is NOT enforced by backend {backend} (see 'cgseq doctor')")
        elif value is not None and how is not None and not how.startswith("kernel"):
            lines.append(
                f"--{limit} enforced by backend {backend} by sampling ({how}), "
                "not by the kernel; see 'cgseq doctor'"
            )
    return lines


_RETRYABLE = {
    TerminationReason.EXITED,
    TerminationReason.TIMEOUT,
    TerminationReason.SIGNALED,
    TerminationReason.MEMORY,
    TerminationReason.PIDS,
}


def _should_retry(result: JobResult) -> bool:
    return result.exit_code != 0 and result.reason in _RETRYABLE


def _terminal() -> int | None:
    """stdin's terminal when we are its foreground job: the job then takes it over."""
    try:
        if os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None


def _close_quietly(group: JobGroup, notice: Notice) -> None:
    try:
        group.close()
    except OSError as exc:
        notice(f"warning: could not remove the job's group: {exc}")
