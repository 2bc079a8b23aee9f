"""Spawn → place → release: the job's first process waits on a pipe until its group is ready.

The child forks, makes its own process group, and blocks reading the *go* pipe. The
parent places it (``JobGroup.place``) and then writes one byte: only then does the child
exec the user's command, so not one allocation happens outside the limits. An exec
failure travels back on a close-on-exec *error* pipe as the errno.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cgseq.errors import EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, SpawnError

# signals the supervisor handles or ignores; the job must start with the defaults
_RESET_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGCHLD,
    signal.SIGQUIT,
    signal.SIGPIPE,
    signal.SIGTTOU,
    signal.SIGTTIN,
    signal.SIGTSTP,
    signal.SIGALRM,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGXFSZ,
)


@dataclass
class HeldChild:
    """A forked child in its own process group, blocked before exec."""

    pid: int
    command: str
    _go_fd: int
    _err_fd: int

    def release(self) -> None:
        """Let the child exec; raise SpawnError if the exec fails (126/127)."""
        os.write(self._go_fd, b"g")
        os.close(self._go_fd)
        report = _read_all(self._err_fd)
        os.close(self._err_fd)
        if report:
            err, _, strerror = report.decode(errors="replace").partition(":")
            _raise_exec_error(self.command, int(err), strerror)

    def abandon(self) -> None:
        """Placement failed: close the pipe so the child exits without exec'ing."""
        os.close(self._go_fd)
        os.close(self._err_fd)


def spawn_held(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    foreground_tty: int | None = None,
) -> HeldChild:
    """Fork a child that will exec ``argv`` once released.

    ``foreground_tty``: a terminal fd whose foreground process group the child takes
    (interactive runs), so the job reads the terminal and gets ^C as if run bare.
    """
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe()  # both ends close-on-exec (PEP 446)
    env_list = dict(env if env is not None else os.environ)
    pid = os.fork()
    if pid == 0:  # child: no Python-level cleanup may run here
        try:
            os.close(go_w)
            os.close(err_r)
            _child(argv, cwd, env_list, go_r, err_w, foreground_tty)
        finally:
            os._exit(EXIT_NOT_FOUND)
    os.close(go_r)
    os.close(err_w)
    _set_pgid(pid)  # also in the parent: no race with signals sent right after fork
    return HeldChild(pid, argv[0], go_w, err_r)


def _set_pgid(pid: int) -> None:
    try:
        os.setpgid(pid, pid)
    except OSError as exc:  # EACCES: child already exec'd; ESRCH: already gone
        if exc.errno not in (errno.EACCES, errno.ESRCH):
            raise


def _child(
    argv: Sequence[str],
    cwd: str | None,
    env: dict[str, str],
    go_r: int,
    err_w: int,
    foreground_tty: int | None,
) -> None:
    os.setpgid(0, 0)
    for signum in _RESET_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    if os.read(go_r, 1) != b"g":  # parent abandoned us (placement failed)
        os._exit(EXIT_NOT_FOUND)
    os.close(go_r)
    if foreground_tty is not None:
        _take_terminal(foreground_tty)
    try:
        if cwd is not None:
            os.chdir(cwd)
        os.execvpe(argv[0], list(argv), env)
    except OSError as exc:
        os.write(err_w, f"{exc.errno}:{exc.strerror}".encode())
        os._exit(_exit_code_for(exc.errno or 0))


def _take_terminal(fd: int) -> None:
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # we are a background group here
    with contextlib.suppress(OSError):
        os.tcsetpgrp(fd, os.getpgrp())
    signal.signal(signal.SIGTTOU, old)


def reclaim_terminal(fd: int) -> None:
    """Give the terminal back to the supervisor's process group after an interactive job."""
    _take_terminal(fd)


def _exit_code_for(err: int) -> int:
    return EXIT_NOT_FOUND if err in (errno.ENOENT, errno.ENOTDIR) else EXIT_NOT_EXECUTABLE


def _raise_exec_error(command: str, err: int, strerror: str) -> None:
    code = _exit_code_for(err)
    what = "command not found" if code == EXIT_NOT_FOUND else "command not executable"
    raise SpawnError(f"{what}: {command} ({strerror})", code)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks)
