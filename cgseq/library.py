"""``cgseq.run(argv, ...)``: the Python API, called like :func:`subprocess.run`.

The arguments are the CLI's options by name, checked by :func:`cgseq.config.resolve` with the
CLI's messages: ``[tool.cgseq]`` of the project of ``cwd`` and ``CGSEQ_*`` apply, an argument
overrides both. The job then runs through the same pipeline as ``cgseq run``
(:func:`cgseq.pipeline.run.run_spec`), inline when called inside a cgseq job. Nothing is printed:
notices go to ``on_notice``, or into ``result.warnings``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING

from cgseq import config
from cgseq.errors import UsageError
from cgseq.model import JobSpec
from cgseq.pipeline.run import RunContext, run_spec
from cgseq.project import project_root
from cgseq.supervise.signals import subreaper_restored

if TYPE_CHECKING:
    from cgseq.result import JobResult
    from cgseq.supervise.spawn import Output

StrPath = str | os.PathLike[str]
Size = int | str | None
Duration = float | int | str | None


def run(
    argv: Sequence[StrPath],
    *,
    memory: Size = None,
    swap: Size = None,
    pids: int | str | None = None,
    timeout: Duration = None,
    kill_grace: Duration = None,
    cwd: StrPath | None = None,
    env: Mapping[str, str] | None = None,
    lock: str | None = None,
    backend: str | None = None,
    wait_timeout: Duration = None,
    leftovers: str | None = None,
    retry: int | str | None = None,
    memory_warn_share: float | str | None = None,
    capture_output: bool = False,
    text: bool = False,
    check: bool = False,
    on_notice: Callable[[str], None] | None = None,
) -> JobResult:
    """Run ``argv`` in its project's turn, under its limits, and wait for the result.

    Sizes take bytes or the CLI's text (``"512M"``, ``"2G"``), durations seconds or text
    (``"90s"``, ``"10m"``); ``None`` leaves the option to ``[tool.cgseq]``, ``CGSEQ_*`` or
    the default. A bad value raises :class:`~cgseq.UsageError` with the CLI's message.

    ``argv`` is a list, never a shell line: a plain ``str`` is refused (``shlex.split``
    it). ``capture_output=True`` puts the job's output in ``result.stdout`` and
    ``result.stderr`` (bytes; str with ``text=True``); otherwise the job shares this
    process's stdout and stderr. stdin is always inherited. ``check=True`` raises
    :class:`~cgseq.JobFailed` (a :class:`subprocess.CalledProcessError`) on a non-zero
    exit. ``on_notice`` gets each line the CLI would print after ``cgseq:``; without it
    those lines are added to ``result.warnings``.

    A SIGINT, SIGTERM or SIGHUP that reaches this process while the job runs goes to the
    job, as with ``cgseq run``; once the job ended it is raised again here, so ^C still
    raises :class:`KeyboardInterrupt` in the caller.

    Inside a cgseq job of the same slot the run is inline: no wait, same turn, and the
    enclosing job's limits hold around this one's. Call it from the main thread (signal
    handlers need it; another thread gets a UsageError). While the job runs it reaps this
    process's exited children and is a child subreaper; after, it is no subreaper again
    unless it was one before.
    """
    command = _command(argv)
    where = _directory(cwd)
    given = {
        "memory": memory,
        "swap": swap,
        "pids": pids,
        "timeout": timeout,
        "kill_grace": kill_grace,
        "lock": lock,
        "backend": backend,
        "wait_timeout": wait_timeout,
        "leftovers": leftovers,
        "retry": retry,
        "memory_warn_share": memory_warn_share,
    }
    resolved = config.resolve(project_root(where), given, given_as="cgseq.run({name}=...)")
    spec = _spec(command, where, env, {name: s.value for name, s in resolved.items()})
    _check_main_thread()
    notices: list[str] = []
    with _captured(capture_output) as files, subreaper_restored():
        context = RunContext(notice=on_notice or notices.append, output=_output(files))
        result = run_spec(spec, context)
        if files is not None:
            result.stdout, result.stderr = (_read(file, text) for file in files)
    result.warnings.extend(_new_lines(notices, result.warnings))
    _pass_on_interrupt(result)
    if check:
        result.check_returncode()
    return result


def _command(argv: Sequence[StrPath]) -> tuple[str, ...]:
    if isinstance(argv, str | bytes | os.PathLike):
        raise UsageError(
            f"cgseq.run() takes the command as a list, not {type(argv).__name__} {argv!r}: "
            "pass [COMMAND, ARGS...] (shlex.split() a shell line)"
        )
    command = tuple(os.fspath(arg) for arg in argv)
    if not command:
        raise UsageError("no command given: cgseq.run([COMMAND, ARGS...])")
    if not all(isinstance(arg, str) for arg in command):
        raise UsageError(f"cgseq.run(): every argument must be a str, not {command!r}")
    return command


def _directory(cwd: StrPath | None) -> str:
    if cwd is None:
        return os.getcwd()
    where = os.path.abspath(os.fspath(cwd))
    if not os.path.isdir(where):  # else the job's chdir fails, and that reads as exit 127
        raise UsageError(f"cgseq.run(cwd=...): not a directory: {where!r}")
    return where


def _spec(
    argv: tuple[str, ...], cwd: str, env: Mapping[str, str] | None, values: dict[str, object]
) -> JobSpec:
    from cgseq.pipeline.spec import build_spec

    return build_spec(argv, values, cwd, env)  # the CLI's: the same values make the same job


def _check_main_thread() -> None:
    if threading.current_thread() is not threading.main_thread():
        raise UsageError(
            "cgseq.run() must be called from the main thread: "
            "it handles SIGINT, SIGTERM and SIGHUP while the job runs"
        )


@contextlib.contextmanager
def _captured(capture: bool) -> Iterator[tuple[IO[bytes], IO[bytes]] | None]:
    """Two unlinked temporary files (O_TMPFILE where it works): output of any size, no
    pipe to drain while the job runs, nothing left on disk."""
    if not capture:
        yield None
        return
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        yield out, err


def _output(files: tuple[IO[bytes], IO[bytes]] | None) -> Output | None:
    if files is None:
        return None
    from cgseq.supervise.spawn import Output

    return Output(files[0].fileno(), files[1].fileno())


def _read(file: IO[bytes], text: bool) -> bytes | str:
    file.seek(0)
    data = file.read()
    if not text:
        return data
    import locale

    # replace, not strict: the job has run, its result must not be lost to one bad byte
    return data.decode(locale.getpreferredencoding(False), errors="replace")


def _pass_on_interrupt(result: JobResult) -> None:
    """A signal that ended the job reaches the caller too, once the job is over.

    It was this process's (^C, a SIGTERM to the script): without cgseq in between the
    caller would have got it, so its own disposition acts now: ^C raises KeyboardInterrupt,
    SIGTERM ends the script, an ignored one is ignored, a handler runs.
    """
    from cgseq.model import TerminationReason

    if result.reason is not TerminationReason.INTERRUPTED or not result.detail:
        return
    import signal

    # the supervisor's detail: "interrupted by SIGINT" (cgseq.supervise.supervisor)
    name = result.detail.removeprefix("interrupted by ")
    if name in signal.Signals.__members__:
        signal.raise_signal(signal.Signals[name])


def _new_lines(notices: list[str], warnings: list[str]) -> list[str]:
    """Notices not already among the job's warnings (which they repeat as ``warning: …``)."""
    lines = []
    for line in notices:
        plain = line.removeprefix("warning: ")
        if plain not in warnings and plain not in lines:
            lines.append(plain)
    return lines


__all__ = ["run"]
