"""``cgseq run``: wait for the project's turn, run the command under limits, report."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from cgseq import config
from cgseq.commands.waitline import WaitLine, display, short
from cgseq.errors import CgseqError, UsageError
from cgseq.model import TerminationReason
from cgseq.pipeline.run import RunContext, run_spec
from cgseq.pipeline.spec import build_spec
from cgseq.project import project_root
from cgseq.queue.turns import process_start_ns

if TYPE_CHECKING:
    from cgseq.result import JobResult

_CGSEQ_ENDED = {
    TerminationReason.MEMORY,
    TerminationReason.PIDS,
    TerminationReason.TIMEOUT,
    TerminationReason.INTERRUPTED,
    TerminationReason.KILLED,
}


def run_command(
    argv: Sequence[str],
    *,
    settings: Mapping[str, object],
    json_out: bool,
    report: str | None,
    verbose: bool,
    detach: bool = False,
    detached_args: Sequence[str] = (),
) -> int:
    """Run ``argv`` in its turn; ``settings`` are the explicit values by option name (None:
    not given), as ``config.resolve()`` takes them; ``report`` is a file for the result.
    ``detach``: check the settings, then run ``cgseq run DETACHED_ARGS`` in the background."""
    if not argv:
        raise UsageError("no command given: cgseq run [options] -- COMMAND [ARGS...]")
    resolved = config.resolve(project_root(os.getcwd()), settings)
    spec = build_spec(tuple(argv), {name: s.value for name, s in resolved.items()})
    if detach:
        from cgseq.commands.detach import launch

        return launch(list(detached_args))
    report_file = _ReportFile(report) if report is not None else None  # exit 2 before
    # this process exists to ask for a turn: it asked when the kernel started it
    line = WaitLine()
    context = RunContext(
        on_wait=line.start, on_waited=line.stop, notice=_notice, asked=process_start_ns()
    )
    try:
        result = run_spec(spec, context)
    except BaseException:
        if report_file is not None:
            report_file.discard()  # no job, no result: leave no empty report behind
        raise
    _report(result, json_out, report_file)
    if spec.record and (verbose or _notable(result)):
        _log(result, verbose)
    return result.exit_code


def _notable(result: JobResult) -> bool:
    return (
        result.reason is not TerminationReason.EXITED
        or result.queue_wait > 1.0
        or bool(result.leftovers_killed or result.warnings)
    )


def _log(result: JobResult, verbose: bool) -> None:
    from cgseq.eventlog import log_event

    data = result.to_json()
    try:
        log_event("job.finished", verbose=verbose, **data)
    except (CgseqError, OSError) as exc:  # the job ran: its exit code stands, the log is extra
        _notice(f"warning: job not recorded in the event log: {exc}")


def _notice(line: str) -> None:
    one_line = line.replace("\r", "\\r").replace("\n", "\\n")  # a command may hold a newline
    print(f"cgseq: {one_line}", file=sys.stderr, flush=True)


def _report(result: JobResult, json_out: bool, report: _ReportFile | None) -> None:
    command = short(display(result.argv))
    for line in result.leftovers_killed:
        _notice(f"{'' if line.startswith('kept') else 'killed '}{line} left by {command}")
    if result.reason in _CGSEQ_ENDED and result.detail:
        stopped = (TerminationReason.INTERRUPTED, TerminationReason.KILLED)
        verb = "stopped" if result.reason in stopped else "killed"
        _notice(f"{verb} {command}: {result.detail}")
    elif result.reason in (TerminationReason.NOT_FOUND, TerminationReason.NOT_EXECUTABLE):
        _notice(result.detail or result.reason.value)
    if report is None and not json_out:
        return
    import json  # only for --json / --report

    text = json.dumps(result.to_json(), indent=2)
    if report is not None:
        report.write(text)
    if json_out:
        _emit(text)


def _emit(text: str) -> None:
    """Print to stdout; a reader that went away (``| head``) must not turn into an error,
    nor a stdout that fails (``> /dev/full``) replace the job's exit code: one warning."""
    try:
        print(text, flush=True)
    except OSError as exc:
        if not isinstance(exc, BrokenPipeError):
            _notice(f"warning: could not write the result to stdout: {exc.strerror}")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit


class _ReportFile:
    """``--report FILE``, opened before the job: a path that cannot be written is exit 2
    then, with nothing run, not a lost exit code after the job. A write that still fails
    (``/dev/full``: the open works, the write gets ENOSPC) is one warning line.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        self.created = not os.path.lexists(path)
        try:  # no O_TRUNC: an older report stays until the new one replaces it
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: a FIFO nobody reads yet; opened at the end
                raise UsageError(f"cannot write --report {path!r}: {exc.strerror}") from None
        else:
            os.set_blocking(self.fd, True)

    def write(self, text: str) -> None:
        fd = self.fd
        try:
            fd = fd if fd is not None else os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.ftruncate(fd, 0)
            data = text.encode()
            while data:
                data = data[os.write(fd, data) :]
        except OSError as exc:
            _notice(f"warning: could not write the report to {self.path}: {exc.strerror}")
        finally:
            self._close(fd)

    def discard(self) -> None:
        """Remove the file this run created, if it is still the one we opened."""
        if self.fd is not None and self.created:
            with contextlib.suppress(OSError):
                mine, there = os.fstat(self.fd), os.stat(self.path)
                if (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino):
                    os.unlink(self.path)
        self._close(self.fd)

    def _close(self, fd: int | None) -> None:
        self.fd = None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
