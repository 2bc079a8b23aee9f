"""The command line: build the argparse tree, dispatch, and map errors to exit codes.

This is the only place that turns exceptions into exit codes. Imports stay light: a
queued ``cgseq run`` must not pay for anything it does not use while it waits.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from cgseq import __version__
from cgseq.config import OPTIONS
from cgseq.errors import EXIT_CGSEQ_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, CgseqError

EXIT_CODES = """exit codes:
  N        the command's own exit code
  2        bad usage or configuration
  124      the job timed out (--timeout)
  125      cgseq itself failed (no turn within --wait-timeout, backend unavailable, ...)
  126      the command is not executable
  127      the command was not found
  128+N    the job was killed by signal N (137: killed for exceeding --memory or --pids)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not a usage dump: what is wrong and where to look."""
        self.exit(EXIT_USAGE, f"cgseq: {one_line(message)} (see '{self.prog} --help')\n")


def one_line(message: str) -> str:
    """An error is one line, whatever text of the user's it quotes (a newline in an option)."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cgseq",
        description="Run commands one at a time per project, "
        "under memory, process and time limits.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cgseq {__version__}")
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND", parser_class=_Parser)
    _add_run(commands)
    status = commands.add_parser("status", help="who runs, who waits, memory now and peak")
    status.add_argument("--json", action="store_true", help="print JSON")
    doctor = commands.add_parser("doctor", help="what each backend can enforce here, and why not")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.add_argument(
        "--clean", action="store_true", help="kill and remove groups left by dead supervisors"
    )
    doctor.add_argument("--no-canary", action="store_true", help="skip the canary jobs")
    config = commands.add_parser("config", help="effective settings and where each comes from")
    config.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _add_run(commands: argparse._SubParsersAction[_Parser]) -> None:
    run = commands.add_parser(
        "run",
        help="run a command when it is this project's turn",
        usage="cgseq run [options] -- COMMAND [ARGS...]",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for option in OPTIONS:
        if option.name == "record":
            run.add_argument(
                "--no-record",
                dest="record",
                action="store_const",
                const="false",
                help="keep no history or event log for this job",
            )
            continue
        run.add_argument(
            option.flag,
            dest=option.name,
            metavar=option.name.upper(),
            help=f"{option.help} [env {option.env}]",
        )
    run.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    run.add_argument("--report", metavar="FILE", help="write the result as JSON to FILE")
    run.add_argument("-v", "--verbose", action="store_true", help="log cgseq's events to stderr")
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command to run")


def entry() -> None:
    """The console script: exit without tearing the interpreter down (a few ms per run)."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    except OSError as exc:  # e.g. `cgseq config > /dev/full`: say so, do not exit 0
        import contextlib

        with contextlib.suppress(OSError):
            os.write(2, f"cgseq: cannot write the output: {exc.strerror}\n".encode())
        code = code or EXIT_CGSEQ_FAILURE
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except CgseqError as exc:
        print(f"cgseq: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cgseq: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`cgseq status | head`): not our failure
        _silence_stdout()
        return 0
    except OSError as exc:  # the world, not a bug: e.g. `cgseq config > /dev/full`
        where = f" ({exc.filename})" if exc.filename else " (writing the output)"
        print(f"cgseq: {exc.strerror or exc}{where}", file=sys.stderr)
        _silence_stdout()
        return EXIT_CGSEQ_FAILURE
    except Exception as exc:  # a bug: say so in one line, keep the details in a crash log
        from cgseq.crash import write_crash_log

        where = write_crash_log(exc)
        print(f"cgseq: internal error: {exc!r} (details in {where})", file=sys.stderr)
        return EXIT_CGSEQ_FAILURE


def _dispatch(args: argparse.Namespace) -> int:
    if args.subcommand == "run":
        from cgseq.commands.run import run_command

        return run_command(args)
    if args.subcommand == "status":
        from cgseq.commands.status import status_command

        return status_command(args)
    if args.subcommand == "doctor":
        from cgseq.commands.doctor import doctor_command

        return doctor_command(args)
    if args.subcommand == "config":
        from cgseq.commands.config import config_command

        return config_command(args)
    build_parser().print_help(sys.stderr)
    return EXIT_USAGE


def _silence_stdout() -> None:
    """No second error when the interpreter flushes a stdout that cannot be written."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
