"""The command line: build the argparse tree, dispatch, and map errors to exit codes.

This is the only place that turns exceptions into exit codes. Imports stay light: a
queued ``cgseq run`` must not pay for anything it does not use while it waits.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, NoReturn, cast

from cgseq import __version__
from cgseq.config import OPTIONS
from cgseq.errors import EXIT_CGSEQ_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, CgseqError

EXIT_CODES = """exit codes:
  N        the command's own exit code
  2        bad usage or configuration
  123      cancelled before it ran (cgseq cancel)
  75       cgseq wait: the detached job is still queued or running (--timeout)
  124      the job timed out (--timeout)
  125      cgseq itself failed (no turn within --wait-timeout, backend unavailable, ...)
  126      the command is not executable
  127      the command was not found
  128+N    the job was killed by signal N (137: killed for exceeding --memory or --pids)
  143      the job was stopped by cgseq kill
"""


def _columns() -> int:
    """``shutil.get_terminal_size().columns - 2`` as argparse computes its width, without
    importing shutil (with bz2, lzma and zlib) on every run."""
    try:
        return int(os.environ["COLUMNS"]) - 2
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns - 2  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 78


class _Plain(argparse.HelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24) -> None:
        super().__init__(prog, indent_increment, max_help_position, _columns())


class _Raw(argparse.RawDescriptionHelpFormatter, _Plain):
    """The epilog (exit codes) and description kept as written."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Plain)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """One line, not a usage dump: what is wrong and where to look."""
        self.exit(EXIT_USAGE, f"cgseq: {one_line(message)} (see '{self.prog} --help')\n")


def one_line(message: str) -> str:
    """An error is one line, whatever text of the user's it quotes (a newline in an option)."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


class Flag(NamedTuple):
    """A command-line flag of one command only (no env var, no config key); a name without
    a leading ``-`` (``("PID",)``) is a positional argument, optional with ``nargs="?"``."""

    names: tuple[str, ...]
    dest: str  # the command function's keyword argument
    help: str
    metavar: str | None = None  # takes a value; else a switch
    action: str = "store_true"  # or "store_false" for a --no-... switch; "append": repeatable
    nargs: str | None = None  # of a positional (its one name has no dash): "*", "+", ...


def _flags(args: argparse.Namespace, flags: tuple[Flag, ...]) -> dict[str, object]:
    return {flag.dest: getattr(args, flag.dest) for flag in flags}


def _run_arguments(args: argparse.Namespace) -> dict[str, object]:
    command = args.command  # argparse.REMAINDER keeps the "--" that ends cgseq's options
    argv = command[1:] if command[:1] == ["--"] else command
    return {
        "argv": argv,
        "settings": {option.name: getattr(args, option.name) for option in OPTIONS},
        "detached_args": _without_detach(getattr(args, "raw", []), command, argv),
        **_flags(args, RUN_FLAGS),
    }


def _without_detach(raw: list[str], command: list[str], argv: list[str]) -> list[str]:
    """``run``'s own arguments as given, less ``--detach``: what the detached job runs."""
    start = raw.index("run") + 1 if "run" in raw else 0
    options = [token for token in raw[start : len(raw) - len(command)] if token != "--detach"]
    return [*options, "--", *argv]


class Command(NamedTuple):
    """A subcommand: where its function is (imported only when it runs), its help, its own
    flags, and how the parsed command line becomes the function's keyword arguments (by
    default: each flag by its ``dest``)."""

    module: str
    function: str
    help: str
    flags: tuple[Flag, ...] = ()
    adapter: Callable[[argparse.Namespace], dict[str, object]] | None = None

    def arguments(self, args: argparse.Namespace) -> dict[str, object]:
        return self.adapter(args) if self.adapter else _flags(args, self.flags)


RUN_FLAGS = (  # besides every option of config.OPTIONS
    Flag(("--json",), "json_out", "print the result as JSON on stdout"),
    Flag(("--report",), "report", "write the result as JSON to FILE", "FILE"),
    Flag(("-v", "--verbose"), "verbose", "log cgseq's events to stderr"),
    Flag(("--detach",), "detach", "queue and run in the background; print the job id"),
)
JSON = Flag(("--json",), "as_json", "print JSON")
DRY_RUN = Flag(("--dry-run",), "dry_run", "show what would change, change nothing")
HOOK_TYPES = Flag(
    ("--hook-type",), "hook_types", "a git hook, e.g. pre-push (repeatable)", "TYPE", "append"
)
SHIM_DIR = Flag(("--dir",), "directory", "the shim directory (see 'cgseq shims list')", "DIR")

COMMANDS: dict[str, Command] = {
    "run": Command(
        "cgseq.commands.run",
        "run_command",
        "run a command when it is this project's turn",
        RUN_FLAGS,
        _run_arguments,
    ),
    "status": Command(
        "cgseq.commands.status",
        "status_command",
        "who runs, who waits, memory now and peak",
        (JSON, Flag(("--all",), "every", "every project and named lock of yours")),
    ),
    "doctor": Command(
        "cgseq.commands.doctor",
        "doctor_command",
        "what each backend can enforce here, and why not",
        (
            JSON,
            Flag(("--clean",), "clean", "kill and remove groups left by dead supervisors"),
            Flag(("--no-canary",), "canary", "skip the canary jobs", action="store_false"),
        ),
    ),
    "cancel": Command(
        "cgseq.commands.cancel",
        "cancel_command",
        "take waiting jobs out of the queue (exit 123 for each)",
        (
            Flag(
                ("id",), "ident", "the job's id or pid, as 'cgseq status' shows it", "ID", nargs="?"
            ),
            Flag(("--all",), "every", "every waiting job of yours, in every project"),
        ),
    ),
    "kill": Command(
        "cgseq.commands.kill",
        "kill_command",
        "stop the running job as a timeout does (SIGTERM, then SIGKILL)",
        (
            Flag(
                ("id",),
                "ident",
                "the job's id or pid (default: this project's job)",
                "ID",
                nargs="?",
            ),
            Flag(("--all",), "every", "every running job of yours, in every project"),
        ),
    ),
    "wait": Command(
        "cgseq.commands.detach",
        "wait_command",
        "wait for a detached job (cgseq run --detach), replay its output, exit with its code",
        (
            Flag(("id",), "ident", "the id cgseq run --detach printed", "ID", nargs="?"),
            Flag(("--timeout",), "timeout", "give up after DUR with exit 75 (still queued)", "DUR"),
        ),
    ),
    "config": Command(
        "cgseq.commands.config",
        "config_command",
        "effective settings and where each comes from",
        (JSON,),
    ),
    "history": Command(
        "cgseq.commands.history",
        "history_command",
        "jobs that ran: list, 'show ID' with its memory chart, 'stats' per command",
        (
            Flag(("ACTION",), "action", "show ID, or stats (default: list jobs)", nargs="?"),
            Flag(("ID",), "ref", "the job to show: its history id or job id", nargs="?"),
            Flag(("-n",), "count", "the last N jobs (list: 20; stats: all)", "N"),
            JSON,
            Flag(("--failed",), "failed", "only jobs that failed (exit code not 0)"),
            Flag(("--all",), "all_projects", "every project's jobs, not only this one's"),
            Flag(("--project",), "project", "the jobs of the project at DIR", "DIR"),
        ),
    ),
    "watch": Command(
        "cgseq.commands.watch",
        "watch_command",
        "follow the memory of a process cgseq did not start, and its children",
        (
            Flag(("PID",), "pid", "the process to watch", nargs="?"),
            Flag(("--interval",), "interval", "time between samples (default 1s)", "DUR"),
            Flag(("--count",), "count", "stop after N samples", "N"),
            JSON,
        ),
    ),
    "monitor": Command(
        "cgseq.commands.monitor",
        "monitor_command",
        "a live view: the running job's memory and processes, the queue, the recent jobs",
        (
            Flag(("--once",), "once", "print one plain frame and exit"),
            Flag(("--interval",), "interval", "time between frames (default 1s)", "DUR"),
            Flag(("--all",), "every", "every project and named lock of yours"),
            Flag(("--count",), "count", "stop after N plain frames", "N"),
        ),
    ),
    "logs": Command(
        "cgseq.commands.logs",
        "logs_command",
        "cgseq's own event log: the events of job ID, or the last ones",
        (
            Flag(("ID",), "ident", "a job id (default: the last events of every job)", nargs="?"),
            Flag(("-n",), "count", "at most N events (default 20)", "N"),
            JSON,
        ),
    ),
    # "GROUP ACTION" is `cgseq GROUP ACTION` (GROUPS: the group's help)
    "init": Command(
        "cgseq.commands.init",
        "init_command",
        "set this project up: [tool.cgseq] limits and the git hooks (--check: what is missing)",
        (DRY_RUN, Flag(("--check",), "check", "list what is set up and missing; exit 1 if any")),
    ),
    "hooks install": Command(
        "cgseq.commands.hooks",
        "install_command",
        "install git hooks that run their work in the project's turn (default: pre-commit)",
        (HOOK_TYPES, DRY_RUN),
    ),
    "hooks uninstall": Command(
        "cgseq.commands.hooks",
        "uninstall_command",
        "remove cgseq's git hooks (default: all), restore the hooks they replaced",
        (HOOK_TYPES, DRY_RUN),
    ),
    "hooks list": Command(
        "cgseq.commands.hooks", "list_command", "each git hook: whose, runs what"
    ),
    "shims install": Command(
        "cgseq.commands.shims",
        "install_command",
        "install commands (pytest, make, ...) that run the real one in the project's turn",
        (Flag(("commands",), "commands", "command names", "COMMAND", nargs="+"), SHIM_DIR),
    ),
    "shims uninstall": Command(
        "cgseq.commands.shims",
        "uninstall_command",
        "remove cgseq's shims (default: all)",
        (Flag(("commands",), "commands", "command names", "COMMAND", nargs="*"), SHIM_DIR),
    ),
    "shims list": Command(
        "cgseq.commands.shims", "list_command", "each shim and the command it runs", (SHIM_DIR,)
    ),
}
GROUPS = {
    "hooks": "git hooks that run their work in the project's turn: install, uninstall, list",
    "shims": "commands on PATH that take the project's turn: install, uninstall, list",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole tree; with ``only`` (the first word of the command line), just that command
    or group: ``cgseq run`` does not pay for building thirty subparsers it will not use."""
    parser = _Parser(
        prog="cgseq",
        description="Run commands one at a time per project, "
        "under memory, process and time limits.",
        epilog=EXIT_CODES,
        formatter_class=_Raw,
    )
    parser.add_argument("--version", action="version", version=f"cgseq {__version__}")
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND", parser_class=_Parser)
    groups: dict[str, argparse._SubParsersAction[_Parser]] = {}
    for name, command in COMMANDS.items():
        if only is not None and name.split(" ")[0] != only:
            continue
        if name == "run":
            subparser = _add_run(commands, command)
        elif " " in name:
            subparser = _add_action(commands, groups, name, command)
        else:
            subparser = commands.add_parser(name, help=command.help)
        for flag in command.flags:
            _add_flag(subparser, flag)
    return parser


def _add_action(
    commands: argparse._SubParsersAction[_Parser],
    groups: dict[str, argparse._SubParsersAction[_Parser]],
    name: str,
    command: Command,
) -> _Parser:
    """``cgseq hooks install``: an action of a group, each with its own flags and help."""
    group, action = name.split(" ")
    if group not in groups:
        parent = commands.add_parser(group, help=GROUPS[group])
        groups[group] = parent.add_subparsers(metavar="ACTION", required=True)
    subparser = groups[group].add_parser(action, help=command.help)
    subparser.set_defaults(subcommand=name)  # what _dispatch looks up
    return subparser


def _add_run(commands: argparse._SubParsersAction[_Parser], command: Command) -> _Parser:
    """``run`` takes a command and every option of ``config.OPTIONS`` (then its own flags)."""
    run = commands.add_parser(
        "run",
        help=command.help,
        usage="cgseq run [options] -- COMMAND [ARGS...]",
        epilog=EXIT_CODES,
        formatter_class=_Raw,
    )
    for option in OPTIONS:
        if option.switch:
            run.add_argument(
                option.flag,
                dest=option.name,
                action="store_const",
                const=option.switch.value,
                help=_help(option.switch.help),
            )
        else:
            run.add_argument(
                option.flag,
                dest=option.name,
                metavar=option.metavar,
                help=_help(f"{option.help} [env {option.env}]"),
            )
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command to run")
    return run


def _help(text: str) -> str:
    """argparse %-formats help texts: a literal ``80%`` made ``cgseq run --help`` a traceback."""
    return text.replace("%", "%%")


def _add_flag(parser: argparse.ArgumentParser, flag: Flag) -> None:
    if not flag.names[0].startswith("-"):  # a positional: argparse takes its dest as its name
        parser.add_argument(
            flag.dest,
            metavar=flag.metavar or flag.names[0],
            nargs=flag.nargs,
            help=_help(flag.help),
        )
    elif flag.metavar:
        action = "append" if flag.action == "append" else "store"
        parser.add_argument(
            *flag.names, dest=flag.dest, metavar=flag.metavar, action=action, help=_help(flag.help)
        )
    else:
        parser.add_argument(*flag.names, dest=flag.dest, action=flag.action, help=_help(flag.help))


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
    raw = list(argv) if argv is not None else sys.argv[1:]
    known = {name.split(" ")[0] for name in COMMANDS}
    args = build_parser(raw[0] if raw and raw[0] in known else None).parse_args(raw)
    args.raw = raw
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
    command = COMMANDS.get(args.subcommand)
    if command is None:
        build_parser().print_help(sys.stderr)
        return EXIT_USAGE
    # only the command that runs; __import__, not importlib.import_module, so that
    # `python -X importtime` still shows the command's module (tests/test_waiters.py)
    module = __import__(command.module, fromlist=[command.function])
    function = cast(Callable[..., int], getattr(module, command.function))
    return function(**command.arguments(args))


def _silence_stdout() -> None:
    """No second error when the interpreter flushes a stdout that cannot be written."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
