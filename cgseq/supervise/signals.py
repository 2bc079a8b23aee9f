"""Signals as events: handlers only wake the supervisor's select() through a pipe."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from typing import Any

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A shell starts a job with some signals ignored: `cmd &` without job control ignores
# SIGINT and SIGQUIT (POSIX 2.11), nohup ignores SIGHUP. What cgseq found ignored stays
# ignored, for cgseq (it neither acts on nor forwards it) and for the job (spawn keeps it).
KEPT_IGNORED = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP)
JOB_CONTROL = (signal.SIGCHLD, signal.SIGCONT)  # a child stopped or exited; we were continued
# `cgseq kill` and `cgseq cancel` leave a note in the queue and send these: a request, never
# obeyed without its note (any process of the user can send a signal)
KILL_REQUEST = signal.SIGUSR2
CANCEL_REQUEST = signal.SIGUSR1
REQUESTS = (KILL_REQUEST, CANCEL_REQUEST)


def ignored(signum: int) -> bool:
    """Ignored since cgseq started: cgseq itself only ever sets handlers, never SIG_IGN."""
    return signal.getsignal(signum) == signal.SIG_IGN


def stop_signals() -> list[int]:
    """The signals that end a run: SIGINT, SIGTERM, SIGHUP unless ignored at start."""
    return [signum for signum in FORWARDED if not ignored(signum)]


class SignalPipe:
    """Collects the signals that arrived since the last :meth:`drain`."""

    def __init__(self) -> None:
        self.read_fd, self._write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self._write_fd, False)

    def drain(self) -> list[int]:
        received: list[int] = []
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self.read_fd, 512):
                received.extend(chunk)
        return received

    @contextlib.contextmanager
    def installed(self) -> Iterator[SignalPipe]:
        previous_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        watched = (*stop_signals(), *JOB_CONTROL, *REQUESTS)
        previous = {s: signal.signal(s, _note) for s in watched}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            signal.set_wakeup_fd(previous_fd)
            os.close(self.read_fd)
            os.close(self._write_fd)


def _note(signum: int, frame: object) -> None:
    """The C-level handler already wrote ``signum`` to the wakeup pipe."""


@contextlib.contextmanager
def requests_held() -> Iterator[None]:
    """A kill or cancel request that comes while no one listens is not cgseq's death (their
    default action): a run holds them for its whole length, and its steps listen in turn."""
    previous = {s: signal.signal(s, _note) for s in REQUESTS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37  # Linux >= 3.4


def become_subreaper() -> bool:
    """Linux >= 3.4: orphaned descendants re-parent to us instead of init."""
    return _set_subreaper(True)


@contextlib.contextmanager
def subreaper_restored() -> Iterator[None]:
    """The library call leaves the caller as it found it: not a subreaper, if it was not.

    A subreaper for good, a test process (or a server) would collect every orphan of its
    descendants from then on, long after the job ended.
    """
    was = _is_subreaper()
    try:
        yield
    finally:
        if was is False:
            _set_subreaper(False)


def _set_subreaper(on: bool) -> bool:
    libc = _libc()
    return libc is not None and libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0


def _is_subreaper() -> bool | None:
    import ctypes

    libc = _libc()
    flag = ctypes.c_int(0)
    if libc is None or libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) != 0:
        return None
    return bool(flag.value)


def _libc() -> Any:
    import sys

    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    return ctypes.CDLL(None, use_errno=True)
