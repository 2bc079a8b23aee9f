"""``run_spec(spec)``: the whole pipeline of one job (see :mod:`cgseq.pipeline`).

A waiter further back imports nothing heavy; the one next in line never imports what a
backend that opens its group at the turn needs (pystemd) before its turn.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from cgseq.errors import Cancelled, CgseqError, Interrupted
from cgseq.model import JobSpec
from cgseq.pipeline import nesting
from cgseq.pipeline.job import Job, Notice
from cgseq.project import slot_for
from cgseq.queue import turns
from cgseq.queue.records import TicketRecord

if TYPE_CHECKING:
    from cgseq.result import JobResult
    from cgseq.supervise.spawn import Output


class RunContext:
    """What one run knows besides its spec; the CLI fills in the callbacks."""

    def __init__(
        self,
        on_wait: Callable[[turns.Turn], None] | None = None,
        notice: Notice | None = None,
        asked: int | None = None,
        output: Output | None = None,
        on_waited: Callable[[], None] | None = None,
    ) -> None:
        self.on_wait = on_wait  # the wait really begins (someone is ahead)
        self.on_waited = on_waited  # the wait is over: the turn came, or it never will
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
    enclosing = nesting.enclosing_job(slot.key)
    if enclosing is not None:
        from cgseq.pipeline.inline import run_inline

        return run_inline(spec, slot, cwd, context.notice, context.output, enclosing)
    _check_backend(spec.backend)
    from cgseq.supervise.signals import requests_held

    job = Job(spec, slot, None, cwd, context.notice, context.output)
    with requests_held():
        turn = turns.queue_up_in(slot.key, _ticket(spec, cwd, job.early_id()), context.asked)
        job.turn = turn
        job.event("job.queued", pid=os.getpid(), argv=list(spec.argv), slot=slot.key)
        try:
            ready = functools.partial(job.prepare, before_turn=True)
            try:
                with _interruptible(turn, job):
                    queue_wait = turn.wait(spec.wait_timeout, context.on_wait, ready)
            finally:
                if context.on_waited is not None:
                    context.on_waited()
            return _hold(job, turn, queue_wait)
        finally:
            job.discard()
            turn.release()


def _check_backend(name: str) -> None:
    """A named backend that cannot run fails before queueing (``auto`` always finds one;
    the registry, whose base imports dataclasses, is not for every waiter)."""
    if name != "auto":
        from cgseq import backends

        backends.check_named(name)


def _ticket(spec: JobSpec, cwd: str, job_id: str | None) -> TicketRecord:
    return TicketRecord(
        pid=os.getpid(), argv=spec.argv, cwd=cwd, since=time.time(), job_id=job_id, lock=spec.lock
    )


@contextlib.contextmanager
def _interruptible(turn: turns.Turn, job: Job) -> Iterator[None]:
    """SIGTERM/SIGHUP while waiting unwind like ^C does, so a prepared job is cleaned up;
    so does a cancel request with its note (``cgseq cancel``).

    One ignored when cgseq started (nohup, ``trap '' TERM``) stays ignored, as SIGINT does
    (Python leaves an ignored SIGINT ignored) and as it is while the job runs.
    """
    from cgseq.supervise.signals import CANCEL_REQUEST, stop_signals

    def stop(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    def cancel(signum: int, frame: object) -> None:
        by = turn.take_note("cancel")
        if by is not None:  # no note: not a request of cgseq's, the wait goes on
            job.event("job.cancelled", by=by)
            raise Cancelled(by)

    unwinding = [s for s in stop_signals() if s != signal.SIGINT]  # ^C: KeyboardInterrupt
    previous = {s: signal.signal(s, stop) for s in unwinding}
    previous[CANCEL_REQUEST] = signal.signal(CANCEL_REQUEST, cancel)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _hold(job: Job, turn: turns.Turn, queue_wait: float) -> JobResult:
    """The turn is ours: clean up after a dead holder, run the attempts, record the result."""
    from cgseq import history
    from cgseq.pipeline import recovery

    cleaned = recovery.after_dead_holder(turn)  # this slot's dead holder: before our job
    job.event("job.placed", queue_wait=round(queue_wait, 6), cleaned=cleaned)
    for line in cleaned:
        job.notice(line)
    result = job.run_attempts()
    result.queue_wait = queue_wait
    if job.spec.record:
        memory = job.memory
        try:
            history.record(
                result,
                timeline=memory.timeline if memory is not None else None,
                psi=job.pressure,
                lock=job.spec.lock,
                started=memory.started if memory is not None else None,
            )
        except CgseqError as exc:  # the job ran: its exit code stands, the history is extra
            job.notice(f"warning: job not recorded in the history: {exc}")
    return result


__all__ = ["RunContext", "run_spec"]
