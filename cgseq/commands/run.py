"""``cgseq run``: wait for the project's turn, run the command under limits, report."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from typing import TYPE_CHECKING, Any

from cgseq import config
from cgseq.api import RunContext, run
from cgseq.errors import UsageError
from cgseq.model import JobSpec, Limits, TerminationReason
from cgseq.project import project_root
from cgseq.turns import Turn, process_start_ns
from cgseq.units import format_duration

if TYPE_CHECKING:
    from cgseq.result import JobResult

_CGSEQ_ENDED = {
    TerminationReason.MEMORY,
    TerminationReason.PIDS,
    TerminationReason.TIMEOUT,
    TerminationReason.INTERRUPTED,
}


def run_command(args: argparse.Namespace) -> int:
    argv = _command(args.command)
    settings = config.resolve(
        project_root(os.getcwd()), {o.name: getattr(args, o.name) for o in config.OPTIONS}
    )
    spec = build_spec(argv, {name: s.value for name, s in settings.items()})
    # this process exists to ask for a turn: it asked when the kernel started it
    context = RunContext(on_wait=_announce_wait, notice=_notice, asked=process_start_ns())
    result = run(spec, context)
    _report(result, args)
    if spec.record and (args.verbose or _notable(result)):
        _log(result, args.verbose)
    return result.exit_code


def _notable(result: JobResult) -> bool:
    return (
        result.reason is not TerminationReason.EXITED
        or result.queue_wait > 1.0
        or bool(result.leftovers_killed or result.warnings)
    )


def _log(result: JobResult, verbose: bool) -> None:
    from cgseq.eventlog import log_event
    from cgseq.statedir import state_dir

    data = result.to_json()
    log_event(state_dir(), "job.finished", verbose=verbose, **data)


def _command(raw: list[str]) -> tuple[str, ...]:
    argv = raw[1:] if raw[:1] == ["--"] else raw
    if not argv:
        raise UsageError("no command given: cgseq run [options] -- COMMAND [ARGS...]")
    return tuple(argv)


def build_spec(argv: tuple[str, ...], values: dict[str, Any]) -> JobSpec:
    limits = Limits(
        memory=values["memory"],
        swap=values["swap"],
        pids=values["pids"],
        timeout=values["timeout"],
        kill_grace=values["kill_grace"],
    )
    return JobSpec(
        argv=argv,
        limits=limits,
        cwd=os.getcwd(),
        backend=values["backend"],
        lock=values["lock"],
        wait_timeout=values["wait_timeout"],
        leftovers=values["leftovers"],
        retry=values["retry"],
        poll_interval=values["poll_interval"],
        record=values["record"],
    )


def _notice(line: str) -> None:
    print(f"cgseq: {line}", file=sys.stderr, flush=True)


def _announce_wait(turn: Turn) -> None:
    holder = turn.read_holder() or _first_ticket(turn)
    running = "another job"
    if holder:
        command = _display(holder.get("argv") or []) or "?"
        pid = holder.get("job_pid") or holder.get("pid")
        elapsed = format_duration(max(0.0, time.time() - float(holder.get("since", time.time()))))
        running = f"{_short(command)} (pid {pid}, {elapsed})"
    place, total = turn.queue_position()
    _notice(f"waiting for turn — running: {running}; you are {_ordinal(place)} of {total}")


def _first_ticket(turn: Turn) -> dict[str, Any] | None:
    from cgseq.turns import live_tickets

    queue = live_tickets(turn.directory)
    return queue[0] if queue and queue[0].get("pid") != os.getpid() else None


def _display(argv: list[str]) -> str:
    """``python3 tests/x.py`` rather than ``/root/.pyenv/.../bin/python3 tests/x.py``."""
    return shlex.join([os.path.basename(argv[0]), *argv[1:]]) if argv else ""


def _short(command: str, width: int = 60) -> str:
    return command if len(command) <= width else command[: width - 1] + "…"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _report(result: JobResult, args: argparse.Namespace) -> None:
    command = _short(_display(result.argv))
    for line in result.leftovers_killed:
        _notice(f"{'' if line.startswith('kept') else 'killed '}{line} left by {command}")
    if result.reason in _CGSEQ_ENDED and result.detail:
        verb = "stopped" if result.reason is TerminationReason.INTERRUPTED else "killed"
        _notice(f"{verb} {command}: {result.detail}")
    elif result.reason in (TerminationReason.NOT_FOUND, TerminationReason.NOT_EXECUTABLE):
        _notice(result.detail or result.reason.value)
    data = result.to_json()
    if args.report:
        with open(args.report, "w") as handle:
            json.dump(data, handle, indent=2)
    if args.json:
        _emit(json.dumps(data, indent=2))


def _emit(text: str) -> None:
    """Print to stdout; a reader that went away (``| head``) must not turn into an error."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
