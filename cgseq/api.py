"""``run_spec(spec)``: the whole pipeline of one job, as a library call.

slot → (nested? run inline) → queue up → wait; once next in line, prepare (backend, group,
held first process) → the turn → clean up after a dead holder → release the job and
supervise each attempt → hand the turn on → result. A waiter further back imports nothing
heavy; the one next in line never imports pystemd or structlog before its turn.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from cgseq import jobids, nesting, procfs, turns
from cgseq.errors import BackendUnavailable, CgseqError, Interrupted
from cgseq.model import JobSpec, TerminationReason, Usage
from cgseq.project import Slot, slot_for
from cgseq.statedir import state_dir

if TYPE_CHECKING:
    from cgseq.result import JobResult
    from cgseq.supervise.spawn import Output

Notice = Callable[[str], None]


class RunContext:
    """What one run knows besides its spec; the CLI fills in the callbacks."""

    def __init__(
        self,
        on_wait: Callable[[turns.Turn], None] | None = None,
        notice: Notice | None = None,
        asked: int | None = None,
        output: Output | None = None,
    ) -> None:
        self.on_wait = on_wait
        self.asked = asked  # when the job asked for its turn (turns.queue_up); None: now
        self.notice: Notice = notice or (lambda line: None)
        self.output = output  # the job's stdout and stderr fds; None: cgseq's own


def run_spec(spec: JobSpec, context: RunContext | None = None) -> JobResult:
    """Run ``spec`` when it is this project's turn, under its limits; wait for the result.

    Raises :class:`~cgseq.errors.CgseqError` subclasses for cgseq's own failures.
    """
    context = context or RunContext()
    cwd = spec.cwd or os.getcwd()
    slot = slot_for(cwd, spec.lock)
    slot_dir = state_dir() / "slots" / slot.key
    enclosing = nesting.enclosing_job(slot_dir)
    if enclosing is not None:
        return _run_inline(spec, slot, cwd, context, enclosing)
    _check_named_backend(spec.backend)
    turn = turns.queue_up(slot_dir, _ticket_info(spec, cwd), context.asked)
    job = _Job(spec, slot, turn, cwd, context)
    try:
        ready = functools.partial(job.prepare, before_turn=True)
        with _interruptible():
            queue_wait = turn.wait(spec.wait_timeout, on_wait=context.on_wait, on_next=ready)
        return _hold(job, turn, queue_wait)
    finally:
        job.discard()
        turn.release()


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM/SIGHUP while waiting unwind like ^C does, so a prepared job is cleaned up.

    One ignored when cgseq started (nohup, ``trap '' TERM``) stays ignored, as SIGINT does
    (Python leaves an ignored SIGINT ignored) and as it is while the job runs.
    """
    from cgseq.supervise.signals import stop_signals

    def stop(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    unwinding = [s for s in stop_signals() if s != signal.SIGINT]  # ^C: KeyboardInterrupt
    previous = {s: signal.signal(s, stop) for s in unwinding}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _ticket_info(spec: JobSpec, cwd: str) -> dict[str, Any]:
    return {"pid": os.getpid(), "argv": list(spec.argv), "cwd": cwd, "since": time.time()}


def _check_named_backend(name: str) -> None:
    """Fail before queueing when a named backend cannot run (cheap probes only)."""
    if name in ("auto", "systemd"):  # systemd's probe imports pystemd: not before the turn
        return
    from cgseq.backends import select

    select(name)


def _hold(job: _Job, turn: turns.Turn, queue_wait: float) -> JobResult:
    from cgseq import recovery

    for line in recovery.after_dead_holder(turn):  # this slot's dead holder: before our job
        job.context.notice(line)
    result = job.run_attempts()
    result.queue_wait = queue_wait
    if job.spec.record:
        try:
            recovery.record_history(turn.directory.parent.parent, result)
        except CgseqError as exc:  # the job ran: its exit code stands, the history is extra
            job.context.notice(f"warning: job not recorded in the history: {exc}")
    return result


def _run_inline(
    spec: JobSpec, slot: Slot, cwd: str, context: RunContext, enclosing: nesting.Enclosing
) -> JobResult:
    """A nested run: same turn, same enclosing limits; only its own timeout and limits apply."""
    from cgseq.backends.poll import PollBackend

    job = _Job(spec, slot, None, cwd, context)
    job.candidates = [(PollBackend(), PollBackend().probe())]
    ignored = _ignored_backend(spec.backend, enclosing)
    if ignored:
        context.notice(f"warning: {ignored}")
    result = job.run_attempts()
    result.warnings[:0] = [ignored] if ignored else []
    return result


def _ignored_backend(named: str, enclosing: nesting.Enclosing) -> str | None:
    """A named backend a nested run cannot use: it runs inside the enclosing job's group.

    A warning, not a refusal: the enclosing job's limits still hold, and a script that names
    a backend should still work when it is run under cgseq.
    """
    if named == "auto" or named == enclosing.backend:
        return None
    return (
        f"--backend {named} not used: this run is nested in job {enclosing.job_id} "
        f"(backend {enclosing.backend}) and shares its turn and limits; "
        "its own limits are sampled by poll"
    )


class _Job:
    """One job's attempts; what can be done before the turn is done in :meth:`prepare`."""

    def __init__(
        self, spec: JobSpec, slot: Slot, turn: turns.Turn | None, cwd: str, context: RunContext
    ) -> None:
        self.spec, self.slot, self.turn, self.cwd, self.context = spec, slot, turn, cwd, context
        self.started = time.monotonic()
        self.candidates: list[Any] | None = None
        self.tty: int | None = None
        self.prepared: tuple[Any, Any, Any] | None = None  # backend, group, held supervisor
        self.warnings: list[str] = []

    @functools.cached_property
    def job_id(self) -> str:
        # made when first used (prepare, by the head waiter): where there is no /proc it
        # costs psutil's import, which a waiter further back must not pay
        return jobids.new_job_id()

    def prepare(self, before_turn: bool = False) -> None:
        """Imports, backend choice, group and held first process, ahead of the turn.

        The head waiter calls this while the holder still runs, so the hand-off is only
        "take the slot, release the child". Never pystemd (or structlog) before the turn:
        a systemd scope is opened once the turn is held.
        """
        from cgseq import recovery
        from cgseq.supervise.signals import become_subreaper
        from cgseq.turns import warm_up

        become_subreaper()
        warm_up()
        self.tty = _terminal()
        if self.candidates is None:
            if before_turn and _systemd_may_be_first(self.spec.backend):
                return  # its probe imports pystemd: a waiter must not, so after the turn
            for line in recovery.orphan_groups():  # other dead supervisors' groups, any project
                self.context.notice(line)
            self.candidates = _candidates(self.spec.backend)
        if self.prepared is None and self.candidates[0][0].name != "systemd":
            self.prepared = self._open()

    def discard(self) -> None:
        """The turn never came (or the job ended): drop a prepared, unused job."""
        if self.prepared is not None:
            _backend, group, supervisor = self.prepared
            self.prepared = None
            supervisor.abandon()
            _close_quietly(group, self.context.notice)

    def run_attempts(self) -> JobResult:
        from cgseq.supervise.signals import SignalPipe

        self.prepare()
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

    def _attempt(self, signals: Any, attempts: int) -> JobResult:
        backend, group, supervisor = self.prepared or self._open()
        self.prepared = None
        try:
            attempt = supervisor.run(signals)
        except BaseException:
            _close_quietly(group, self.context.notice)
            raise
        result = self._result(backend.name, attempt, attempts)
        if self.turn is not None and (attempts > self.spec.retry or not _should_retry(result)):
            self.turn.release()  # the job is over and its group empty: next job, go
        if attempt.kept:
            group.detach()
        else:
            _close_quietly(group, self.context.notice)
        return result

    def _open(self) -> tuple[Any, Any, Any]:
        """The first candidate backend whose group takes the held process and its limits."""
        from cgseq.supervise.supervisor import Hooks, Supervisor

        assert self.candidates is not None
        for index, (backend, _availability) in enumerate(self.candidates):
            group = backend.open_group(self.spec, self.job_id)
            hooks = Hooks(
                started=functools.partial(self._started, backend=backend, group=group),
                tick=self._tick,
                warn=self._warn,
            )
            supervisor = Supervisor(
                self.spec, group, self._env(), self.tty, hooks, self.context.output
            )
            try:
                supervisor.prepare()
            except BackendUnavailable as exc:
                _close_quietly(group, self.context.notice)
                if self.spec.backend != "auto" or index + 1 == len(self.candidates):
                    raise
                following = self.candidates[index + 1][0].name
                self.context.notice(f"warning: {exc}; falling back to {following}")
                continue
            return backend, group, supervisor
        raise BackendUnavailable(self.spec.backend, "no backend could run the job")

    def _env(self) -> dict[str, str]:
        env = dict(self.spec.env if self.spec.env is not None else os.environ)
        env[procfs.JOB_ENV] = self.job_id
        if self.turn is not None:
            env[nesting.ENV] = nesting.token(self.slot.key, self.job_id)
        return env

    def _started(self, pid: int, backend: Any, group: Any) -> None:
        self.warnings = _unenforced(self.spec, backend.name, group.enforced())
        for warning in self.warnings:
            self.context.notice(f"warning: {warning}")
        if self.turn is None:
            return
        self._holder = {
            "pid": os.getpid(),
            "job_pid": pid,
            "job_id": self.job_id,
            "argv": list(self.spec.argv),
            "cwd": self.cwd,
            "since": time.time(),
            "backend": backend.name,
            "record": group.record(),
            "limits": self.spec.limits._asdict(),
        }
        self.turn.write_holder(self._holder)

    def _warn(self, line: str) -> None:
        self.warnings.append(line)
        self.context.notice(f"warning: {line}")

    def _tick(self, usage: Usage) -> None:
        if self.turn is not None and getattr(self, "_holder", None):
            self._holder.update(
                peak_memory=usage.peak_memory,
                memory_now=usage.memory_now,
                peak_pids=usage.peak_pids,
            )
            self.turn.write_holder(self._holder)

    def _result(self, backend: str, attempt: Any, attempts: int) -> JobResult:
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


def _systemd_may_be_first(name: str) -> bool:
    if name not in ("auto", "systemd"):
        return False
    from cgseq.backends import systemd

    return systemd.may_be_available()


def _candidates(name: str) -> list[Any]:
    """The selected backend, then (for auto) the weaker ones to fall back to."""
    from cgseq import backends

    first, availability = backends.select(name)
    chosen = [(first, availability)]
    if name == "auto":
        for weaker in backends.next_after(first.name):
            backend = backends.load(weaker)
            found = backend.probe()
            if found.available:
                chosen.append((backend, found))
    return chosen


def _should_retry(result: JobResult) -> bool:
    retryable = {
        TerminationReason.EXITED,
        TerminationReason.TIMEOUT,
        TerminationReason.SIGNALED,
        TerminationReason.MEMORY,
        TerminationReason.PIDS,
    }
    return result.exit_code != 0 and result.reason in retryable


def _terminal() -> int | None:
    """stdin's terminal when we are its foreground job: the job then takes it over."""
    try:
        if os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None


def _close_quietly(group: Any, notice: Notice) -> None:
    try:
        group.close()
    except OSError as exc:
        notice(f"warning: could not remove the job's group: {exc}")


__all__ = ["RunContext", "run_spec"]
