"""Spawn → place → release: the job's first process waits on a pipe until its group is ready.

The child forks, makes its own process group, and blocks reading the *go* pipe. The
parent places it (``JobGroup.place``) and then writes one byte: only then does the child
(as root, where the group asks for it) enter a cgroup namespace rooted at its group and
exec the user's command, so not one allocation happens outside the limits. The child
reports on a close-on-exec *report* pipe: ``warn <text>`` lines, then ``exec
<errno>:<strerror>`` when the exec fails.
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cgseq.errors import EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, SpawnError
from cgseq.supervise.signals import KEPT_IGNORED, ignored

CLONE_NEWCGROUP = 0x02000000  # Linux >= 4.6
Unshare = Callable[[], int]  # unshare(CLONE_NEWCGROUP): 0, or the errno

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


class Output(NamedTuple):
    """Where the job's stdout and stderr go instead of cgseq's own (open fds)."""

    stdout: int
    stderr: int


@dataclass
class HeldChild:
    """A forked child in its own process group, blocked before exec."""

    pid: int
    command: str
    _go_fd: int
    _err_fd: int

    def release(self) -> list[str]:
        """Let the child exec; its warnings; raise SpawnError if the exec fails (126/127)."""
        os.write(self._go_fd, b"g")
        os.close(self._go_fd)
        report = _read_all(self._err_fd).decode(errors="replace")
        os.close(self._err_fd)
        warnings = []
        for line in report.splitlines():
            kind, _, text = line.partition(" ")
            if kind == "warn":
                warnings.append(text)
            elif kind == "exec":
                err, _, strerror = text.partition(":")
                _raise_exec_error(self.command, int(err), strerror)
        return warnings

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
    cgroup_namespace: bool = False,
    output: Output | None = None,
) -> HeldChild:
    """Fork a child that will exec ``argv`` once released.

    ``foreground_tty``: a terminal fd whose foreground process group the child takes
    (interactive runs), so the job reads the terminal and gets ^C as if run bare.
    ``cgroup_namespace``: the group is a cgroup v2 group; a root job then runs in a new
    cgroup namespace rooted there, so it cannot write itself out (with nsdelegate).
    ``output``: the fds that become the job's stdout and stderr (None: cgseq's own).
    """
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe()  # both ends close-on-exec (PEP 446)
    env_list = dict(env if env is not None else os.environ)
    unshare = _cgroup_unsharer() if cgroup_namespace and os.geteuid() == 0 else None
    pid = os.fork()
    if pid == 0:  # child: no Python-level cleanup may run here
        try:
            os.close(go_w)
            os.close(err_r)
            _child(argv, cwd, env_list, go_r, err_w, foreground_tty, unshare, output)
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
    unshare: Unshare | None,
    output: Output | None,
) -> None:
    os.setpgid(0, 0)
    for signum in _RESET_SIGNALS:
        if not (signum in KEPT_IGNORED and ignored(signum)):
            signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    if os.read(go_r, 1) != b"g":  # parent abandoned us (placement failed)
        os._exit(EXIT_NOT_FOUND)
    os.close(go_r)
    if unshare is not None:
        _enter_cgroup_namespace(unshare, err_w)
    if foreground_tty is not None:
        hand_terminal(foreground_tty, os.getpgid(os.getppid()), os.getpgrp())
    if output is not None:  # dup2 clears close-on-exec on the copies: the job inherits them
        os.dup2(output.stdout, 1)
        os.dup2(output.stderr, 2)
    try:
        if cwd is not None:
            os.chdir(cwd)
        if not argv[0]:  # execvpe's ValueError for it has no errno: it used to exit silently
            raise FileNotFoundError(errno.ENOENT, "empty command name")
        os.execvpe(argv[0], list(argv), env)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the argv or env
        err = getattr(exc, "errno", None) or errno.EINVAL
        os.write(err_w, f"exec {err}:{getattr(exc, 'strerror', None) or exc}".encode())
        os._exit(_exit_code_for(err))


def hand_terminal(fd: int, holder: int, to: int) -> bool:
    """Make process group ``to`` the terminal's foreground, if ``holder`` has it now.

    Never takes the terminal from anyone else: after the shell's ``bg`` it is the shell's.
    """
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # we may be a background group here
    try:
        if os.tcgetpgrp(fd) != holder:
            return False
        os.tcsetpgrp(fd, to)
        return True
    except OSError:
        return False
    finally:
        signal.signal(signal.SIGTTOU, old)


def _cgroup_unsharer() -> Unshare:
    """unshare(2) through libc, loaded in the parent: Python 3.11 has no os.unshare."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def unshare() -> int:
        return 0 if libc.unshare(CLONE_NEWCGROUP) == 0 else ctypes.get_errno()

    return unshare


def _enter_cgroup_namespace(unshare: Unshare, report_fd: int) -> None:
    """Root the job's cgroup namespace at its group (Linux >= 4.6); not fatal if refused."""
    err = unshare()
    if err:
        name = errno.errorcode.get(err, str(err))
        line = (
            f"warn could not give the job its own cgroup namespace ({name}: "
            f"{os.strerror(err)}): a root job can move itself out of its cgroup\n"
        )
        os.write(report_fd, line.encode())


def _exit_code_for(err: int) -> int:
    return EXIT_NOT_FOUND if err in (errno.ENOENT, errno.ENOTDIR) else EXIT_NOT_EXECUTABLE


def _raise_exec_error(command: str, err: int, strerror: str) -> None:
    code = _exit_code_for(err)
    what = "command not found" if code == EXIT_NOT_FOUND else "command not executable"
    raise SpawnError(f"{what}: {command or repr(command)} ({strerror})", code)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks)
