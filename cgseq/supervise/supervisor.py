"""One attempt of a job: spawn held → place → release → watch → end → leftovers.

The loop sleeps in ``select()`` on the signal pipe until the next deadline (sample,
timeout, kill escalation), so it costs nothing between events. The first reason
recorded for the end of the job wins.

Job control: when the terminal stops the job (^Z, or a background read or write), cgseq
stops with it, so the shell sees its job stopped; on the shell's ``fg`` it gives the
terminal back to the job and continues it, on ``bg`` it continues it in the background.
``--timeout`` is wall time, as with timeout(1): it runs on while the job is stopped, and
a deadline (or a signal) that came meanwhile acts as soon as cgseq is continued.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cgseq.backends.base import JobGroup
from cgseq.errors import EXIT_KILLED, EXIT_NOT_FOUND, EXIT_SIGNAL_BASE, EXIT_TIMEOUT, SpawnError
from cgseq.model import Breach, JobSpec, TerminationReason, Usage
from cgseq.supervise.signals import KILL_REQUEST, SignalPipe
from cgseq.supervise.spawn import HeldChild, Output, hand_terminal, spawn_held

EMPTY_WAIT = 10.0  # seconds to wait for a killed group to empty before giving up
LEFTOVER_TICK = 0.1
TICK = 1.0  # how often the holder record gets fresh usage figures for `cgseq status`
LOST_STATUS = 255 << 8  # wait status "exit 255": the job's own status was collected elsewhere
KILLED_FOR_LIMIT = EXIT_SIGNAL_BASE + signal.SIGKILL  # 137
_KILLED = TerminationReason.KILLED


@dataclass
class Attempt:
    exit_code: int
    reason: TerminationReason
    detail: str | None = None
    usage: Usage = field(default_factory=Usage)
    leftovers: list[str] = field(default_factory=list)
    enforcement: dict[str, str] = field(default_factory=dict)
    kept: bool = False  # --leftovers keep left processes running: the group stays
    pressure: dict[str, int] | None = None  # memory pressure totals of its group (PSI)


@dataclass
class Hooks:
    """Callbacks for the run command: job started (pid), usage once a second, warnings."""

    started: Callable[[int], None] = lambda pid: None
    tick: Callable[[Usage], None] = lambda usage: None
    warn: Callable[[str], None] = lambda line: None
    # a kill request's note, taken: who asked ("cgseq kill from pid N"); None: no request
    kill_requested: Callable[[], str | None] = lambda: None


class Supervisor:
    def __init__(
        self,
        spec: JobSpec,
        group: JobGroup,
        env: Mapping[str, str],
        tty: int | None = None,
        hooks: Hooks | None = None,
        output: Output | None = None,
    ) -> None:
        self.spec, self.group, self.env, self.tty = spec, group, env, tty
        self.output = output
        self.hooks = hooks or Hooks()
        self.status: int | None = None
        self.breach: Breach | None = None
        self.interrupts = 0
        self.leftovers: list[str] = []
        self.pid = 0
        self.deadline: float | None = None  # --timeout
        self.escalate_at: float | None = None  # SIGKILL after SIGTERM
        self.next_sample: float | None = None
        self.next_tick = time.monotonic() + TICK
        self.kept = False
        self.escalated = False  # SIGKILL sent: the grace period is over
        self.stopped_by: int | None = None  # the job's main process stopped (WUNTRACED)

    def prepare(self) -> None:
        """Spawn the job's first process held before exec, and place it in the group.

        May run before the turn is ours (the head waiter prepares while the holder runs);
        raises BackendUnavailable when the group does not take the process or its limits.
        """
        child = spawn_held(
            self.spec.argv,
            cwd=self.spec.cwd,
            env=self.env,
            foreground_tty=self.tty,
            cgroup_namespace=self.group.cgroup_namespace,
            output=self.output,
        )
        self.pid = child.pid
        try:
            self.group.place(child.pid)
        except BaseException:
            child.abandon()
            self._wait_main()
            raise
        self.child: HeldChild | None = child

    def abandon(self) -> None:
        """A prepared job that will not run (the wait was given up): the child exits unrun."""
        child = getattr(self, "child", None)
        if child is not None:
            self.child = None
            child.abandon()
            self._wait_main()

    def run(self, signals: SignalPipe) -> Attempt:
        self.signals = signals
        try:
            return self._run()
        finally:
            self._hand_terminal(self.pid, os.getpgrp())  # back to us, if the job has it

    def _run(self) -> Attempt:
        try:
            self._start()
        except SpawnError as exc:
            self._wait_main()
            reason = (
                TerminationReason.NOT_FOUND
                if exc.exit_code == EXIT_NOT_FOUND
                else TerminationReason.NOT_EXECUTABLE
            )
            return Attempt(exc.exit_code, reason, exc.message)
        self._watch()
        return self._outcome()

    def _start(self) -> None:
        if getattr(self, "child", None) is None:
            self.prepare()
        child, self.child = self.child, None
        assert child is not None
        try:
            self.hooks.started(child.pid)  # e.g. the holder record cannot be written
        except BaseException:
            child.abandon()  # the job never runs: its held process exits unrun, the group empties
            self._wait_main()
            raise
        now = time.monotonic()
        if self.spec.limits.timeout is not None:
            self.deadline = now + self.spec.limits.timeout
        if self.group.poll_interval is not None:
            self.next_sample = now
        for line in child.release():
            self.hooks.warn(line)
        self._on_kill_request()  # one that came before the job started

    def _wait_main(self) -> None:
        _, self.status = os.waitpid(self.pid, 0)

    def _watch(self) -> None:
        while True:
            self._on_signals(self.signals.drain())
            self._reap()
            if self.stopped_by is not None:
                self._follow_stop(self.stopped_by)
            now = time.monotonic()
            self._on_deadlines(now)
            if self.status is not None and self._leftovers_done():
                return
            self._sleep(now)

    def _sleep(self, now: float) -> None:
        pending = [t for t in (self.deadline, self.escalate_at, self.next_sample) if t is not None]
        pending.append(now + LEFTOVER_TICK if self.status is not None else self.next_tick)
        timeout = max(0.0, min(pending) - now) if pending else None
        select.select([self.signals.read_fd], [], [], timeout)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG | os.WUNTRACED)
            except ChildProcessError:  # no children at all: the job's status cannot come
                if self.status is None:
                    self.status = LOST_STATUS
                return
            if pid == 0:
                return
            if pid == self.pid and os.WIFSTOPPED(status):
                self.stopped_by = os.WSTOPSIG(status)
            elif pid == self.pid:
                self.status = status

    def _follow_stop(self, signum: int) -> None:
        """The job stopped: with a terminal, stop too until the shell's fg or bg (see above).

        Without one nobody could continue us, and a stopped cgseq would not act on SIGTERM:
        it stays awake, and ending the job continues it (``_signal``).
        """
        self.stopped_by = None
        if self._terminal() is None or self.status is not None or self.breach is not None:
            return
        self._hand_terminal(self.pid, os.getpgrp())
        # Returns once the shell continues us; the kernel drops it if our group is
        # orphaned (no shell to continue us), and then the job goes on at once.
        os.killpg(0, signum if signum in (signal.SIGTTIN, signal.SIGTTOU) else signal.SIGTSTP)
        self._hand_terminal(os.getpgrp(), self.pid)  # fg: the terminal is ours again
        self.group.signal(signal.SIGCONT)

    def _terminal(self) -> int | None:
        """The terminal the job shares with us: the one it got, or stdin's (we were bg)."""
        if self.tty is not None:
            return self.tty
        return 0 if os.isatty(0) else None

    def _hand_terminal(self, holder: int, to: int) -> None:
        tty = self._terminal()
        if tty is not None and self.pid:
            hand_terminal(tty, holder, to)

    def _signal(self, signum: int) -> None:
        """Pass ``signum`` on, then SIGCONT: a stopped job acts on it only once continued."""
        self.group.signal(signum)
        self.group.signal(signal.SIGCONT)

    def _on_signals(self, received: list[int]) -> None:
        for signum in received:
            if signum == signal.SIGINT:
                self.interrupts += 1
                self._interrupt(signum, escalate=self.interrupts > 1)
            elif signum in (signal.SIGTERM, signal.SIGHUP):
                self._interrupt(signum, escalate=False)
                self.escalate_at = (
                    self.escalate_at or time.monotonic() + self.spec.limits.kill_grace
                )
            elif signum == KILL_REQUEST:
                self._on_kill_request()

    def _on_kill_request(self) -> None:
        """``cgseq kill``: stop the job as a timeout does (SIGTERM, SIGKILL after the grace)."""
        who = self.hooks.kill_requested()
        if who is None or self.status is not None:
            return
        grace = self.spec.limits.kill_grace
        self._end_for(
            Breach(
                TerminationReason.KILLED,
                f"stopped by {who} (SIGTERM, then SIGKILL after {grace:g}s)",
            )
        )
        self._signal(signal.SIGTERM)
        self.escalate_at = self.escalate_at or time.monotonic() + grace

    def _interrupt(self, signum: int, escalate: bool) -> None:
        self._end_for(
            Breach(TerminationReason.INTERRUPTED, f"interrupted by {signal.Signals(signum).name}")
        )
        if escalate:
            self.escalated = True
            self.group.kill()
        else:
            self._signal(signum)

    def _on_deadlines(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline:
            self.deadline = None
            self._end_for(
                Breach(TerminationReason.TIMEOUT, f"timed out after {self.spec.limits.timeout:g}s")
            )
            self._signal(signal.SIGTERM)
            self.escalate_at = now + self.spec.limits.kill_grace
        if self.escalate_at is not None and now >= self.escalate_at:
            self.escalate_at = None
            self.escalated = True
            self.group.kill()
        if self.next_sample is not None and now >= self.next_sample:
            self._sample(now)
        if now >= self.next_tick and self.status is None:
            self.next_tick = now + TICK
            self.hooks.tick(self.group.usage())

    def _sample(self, now: float) -> None:
        assert self.group.poll_interval is not None
        self.next_sample = now + self.group.poll_interval
        breach = self.group.sample()
        if breach is not None:
            self._end_for(breach)
            self.group.kill()

    def _end_for(self, breach: Breach) -> None:
        if self.breach is None:  # the first reason recorded wins
            self.breach = breach

    def _leftovers_done(self) -> bool:
        if self.group.is_empty():
            return True
        if self._in_grace():
            return False
        killing = self.breach is not None or self.spec.leftovers == "kill"
        if not killing and self.spec.leftovers == "wait":
            return False
        if not killing:
            self.leftovers.append("kept " + self._describe_left())
            self.kept = True
            return True
        if self.breach is None:
            self.leftovers.append(self._describe_left())
        self._kill_until_empty()
        return True

    def _in_grace(self) -> bool:
        """After SIGTERM/SIGINT/timeout, the rest of the job gets --kill-grace to clean up."""
        ending = (
            TerminationReason.INTERRUPTED,
            TerminationReason.TIMEOUT,
            TerminationReason.KILLED,
        )
        if self.breach is None or self.breach.reason not in ending or self.escalated:
            return False
        if self.escalate_at is None:
            self.escalate_at = time.monotonic() + self.spec.limits.kill_grace
        return True

    def _describe_left(self) -> str:
        import psutil

        from cgseq import proctree

        processes = []
        for pid in self.group.pids():
            try:
                processes.append(psutil.Process(pid))
            except psutil.Error:
                continue
        return proctree.describe(processes) if processes else "leftover processes"

    def _kill_until_empty(self) -> None:
        end = time.monotonic() + EMPTY_WAIT
        while not self.group.is_empty() and time.monotonic() < end:
            self.group.kill()
            self._reap()
            time.sleep(0.005)
        self._reap()

    def _outcome(self) -> Attempt:
        kernel = self.group.termination()
        breach = self.breach
        if kernel is not None and (
            breach is None or breach.reason is TerminationReason.INTERRUPTED
        ):
            breach = kernel
        usage = self.group.usage()
        enforcement = self.group.enforced()
        code, reason = _exit_code(self.status, breach)
        detail = breach.detail if breach else None
        pressure = self.group.pressure()
        return Attempt(
            code, reason, detail, usage, self.leftovers, enforcement, self.kept, pressure
        )


def _exit_code(status: int | None, breach: Breach | None) -> tuple[int, TerminationReason]:
    if breach is not None and breach.reason is TerminationReason.TIMEOUT:
        return EXIT_TIMEOUT, breach.reason
    if breach is not None and breach.reason is TerminationReason.KILLED:
        return EXIT_KILLED, breach.reason
    if breach is not None and breach.reason in (TerminationReason.MEMORY, TerminationReason.PIDS):
        return KILLED_FOR_LIMIT, breach.reason
    assert status is not None
    if os.WIFSIGNALED(status):
        signaled = TerminationReason.SIGNALED
        return EXIT_SIGNAL_BASE + os.WTERMSIG(status), breach.reason if breach else signaled
    return os.waitstatus_to_exitcode(status), breach.reason if breach else TerminationReason.EXITED
