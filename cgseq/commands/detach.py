"""``cgseq run --detach`` and ``cgseq wait ID``: a job that queues and runs on its own.

An agent's shell gives up on a command after 30 to 120 s; a waiter in a long queue would be
killed and its work lost. Detached, the job takes its turn as usual in a session of its own,
its output kept in the state dir; ``cgseq wait ID`` replays that output and exits with the
job's code, or, while the job still waits or runs when ``--timeout`` ends, exits 75
(EX_TEMPFAIL, as run-one and leasehold use) with a line saying where it is.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

from cgseq import jobids
from cgseq.errors import CgseqError, UsageError
from cgseq.queue import detached, slots

EXIT_STILL_QUEUED = 75  # EX_TEMPFAIL: try again later


def launch(run_args: list[str]) -> int:
    """Start ``cgseq run RUN_ARGS`` detached; print its job id at once."""
    prepared = detached.prepare()
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "cgseq.detached_job", str(prepared.dir_fd), *run_args],
            stdin=subprocess.DEVNULL,
            stdout=prepared.stdout,
            stderr=prepared.stderr,
            pass_fds=(prepared.dir_fd,),
            start_new_session=True,
        )
    finally:
        prepared.close()
    job_id = jobids.first_job_id(child.pid)
    if job_id is None:
        raise CgseqError(f"cannot tell the id of detached job pid {child.pid}")
    detached.name(prepared, job_id)
    print(job_id, flush=True)
    return 0


def wait_command(*, ident: str | None, timeout: str | None) -> int:
    if not ident or not _known(ident):
        raise UsageError(f"no detached job {ident!r} (cgseq run --detach prints the id)")
    seconds = _seconds(timeout)
    deadline = None if seconds is None else time.monotonic() + seconds
    code = _await(ident, deadline)
    if code is None:
        print(f"cgseq: {_where(ident, seconds)}", file=sys.stderr, flush=True)
        return EXIT_STILL_QUEUED
    _replay(ident)
    detached.remove(ident)
    return code


def _known(ident: str) -> bool:
    try:
        return detached.exists(ident)
    except ValueError:
        return False


def _seconds(timeout: str | None) -> float | None:
    if timeout is None:
        return None
    from cgseq.units import parse_duration

    return parse_duration(timeout, "--timeout", minimum=0.0)  # a UsageError, with the forms


def _await(job_id: str, deadline: float | None) -> int | None:
    """The job's exit code once it ended; None when the deadline came first. Blocks in the
    kernel on the process (a pidfd) where it can."""
    parsed = jobids.parse(job_id)
    pidfd = _pidfd(parsed.pid) if parsed is not None else None
    try:
        while True:
            code = detached.exit_code(job_id)
            if code is not None:
                return code
            if not jobids.supervisor_alive(job_id):  # gone: its code came just now, or never
                code = detached.exit_code(job_id)
                return code if code is not None else _vanished(job_id)
            left = 3600.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return None
            if pidfd is not None:
                select.select([pidfd], [], [], left)  # readable once the process has exited
            else:
                time.sleep(min(left, 0.1))
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _vanished(job_id: str) -> int:
    _replay(job_id)
    raise CgseqError(f"detached job {job_id} ended without an exit code (killed?)")


def _replay(job_id: str) -> None:
    out, err = detached.output(job_id)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    sys.stderr.buffer.write(err)
    sys.stderr.flush()


def _where(job_id: str, waited: float | None) -> str:
    """Where the job is now: its place and the job ahead, or how long it has run."""
    from cgseq import control
    from cgseq.units import format_duration

    after = f" after {format_duration(waited)}" if waited is not None else ""
    for target in control.targets():
        if target.job_id != job_id:
            continue
        view = slots.view(target.slot)
        if target.running and view.running is not None:
            return f"job {job_id} still running{after}; 'cgseq wait {job_id}' again later"
        place = next((n for n, t in enumerate(view.waiting, 1) if t.key == target.key), 0)
        ahead = view.running.argv if view.running is not None else None
        running = " ".join(ahead) if ahead else "another job"
        return (
            f"job {job_id} still queued{after}: {place} in line, behind {running}; "
            f"'cgseq wait {job_id}' again later"
        )
    return f"job {job_id} still starting{after}; 'cgseq wait {job_id}' again later"
