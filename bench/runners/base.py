"""The runner interface: a tool, its slots, and the jobs submitted to them; plus the bare baseline.

A :class:`Runner` describes a tool; ``runner.open(workspace)`` gives a :class:`Slot` (one lock or
queue of that tool, private to the workspace) whose ``submit`` starts a command that waits for
the slot and ``run`` times a blocking run of it.
"""

from __future__ import annotations

import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, ClassVar

from bench import procfs
from bench.processes import Popen, spawn, stop, wait_for
from bench.workspace import Workspace, unique_name

Output = int | IO[bytes] | None


class BenchError(Exception):
    """A measurement could not be taken; the message says why (goes into the report)."""


@dataclass(frozen=True)
class Completed:
    """A finished blocking run: wall time in seconds, exit code and captured output."""

    wall: float
    returncode: int
    stdout: bytes
    stderr: bytes

    def stderr_tail(self, lines: int = 3) -> str:
        """The last lines of stderr, for error messages."""
        return " | ".join(self.stderr.decode(errors="replace").strip().splitlines()[-lines:])


class Job(ABC):
    """One submitted command: the runner's process(es) that wait for, then run, the command."""

    @abstractmethod
    def pids(self) -> list[int]:
        """Top processes of this invocation while it waits or runs (descendants not included)."""

    @abstractmethod
    def poll(self) -> int | None:
        """Exit code once finished (0 when the tool does not tell), else None."""

    @abstractmethod
    def stop(self) -> None:
        """End this invocation and what it started, if it is still there."""

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for the job to finish; its exit code or None."""
        wait_for(lambda: self.poll() is not None, timeout, interval=0.002)
        return self.poll()


class PopenJob(Job):
    """A job that is one child process of the bench (cgseq, flock, sem --fg, tsp -f)."""

    def __init__(self, popen: Popen) -> None:
        """Wrap a started child."""
        self.popen = popen

    def pids(self) -> list[int]:
        """The child itself while it is alive."""
        return [] if procfs.is_dead(self.popen.pid) else [self.popen.pid]

    def poll(self) -> int | None:
        """The child's exit code once it has exited."""
        return self.popen.poll()

    def wait(self, timeout: float) -> int | None:
        """Block on the child (no polling)."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL, the child's process group."""
        stop(self.popen)


class Slot(ABC):
    """One exclusive slot of a runner inside a workspace."""

    def __init__(self, runner: Runner, workspace: Workspace, name: str) -> None:
        """Remember the runner, the workspace and the slot's unique name."""
        self.runner = runner
        self.workspace = workspace
        self.name = name

    def env(self) -> dict[str, str]:
        """Environment for this slot's processes."""
        return self.workspace.env()

    @abstractmethod
    def argv(self, cmd: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """The command line that runs ``cmd`` in this slot (``options``: cgseq only)."""

    def submit(
        self,
        cmd: Sequence[str],
        *,
        options: Sequence[str] = (),
        stdout: Output = subprocess.DEVNULL,
        stderr: Output = subprocess.DEVNULL,
    ) -> Job:
        """Start ``cmd`` in the slot and return at once (it may queue)."""
        argv = self.argv(cmd, options)
        popen = spawn(argv, env=self.env(), cwd=self.workspace.root, stdout=stdout, stderr=stderr)
        return PopenJob(popen)

    def run(
        self,
        cmd: Sequence[str],
        *,
        timeout: float,
        options: Sequence[str] = (),
        capture: bool = False,
    ) -> Completed:
        """Run ``cmd`` in the slot and wait for it; wall time is spawn to exit."""
        argv = self.argv(cmd, options)
        start = time.perf_counter()
        popen = spawn(
            argv,
            env=self.env(),
            cwd=self.workspace.root,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            out, err = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            stop(popen)
            raise BenchError(f"{self.runner.key}: no exit within {timeout:.0f}s") from exc
        wall = time.perf_counter() - start
        return Completed(wall, popen.returncode, out or b"", err or b"")

    def daemon_pids(self) -> list[int]:
        """Long-lived helper processes shared by the slot's jobs (task-spooler's server)."""
        return []

    def close(self) -> None:
        """Release what the slot holds beyond its jobs (servers); nothing by default."""
        return None


class Runner(ABC):
    """A tool that runs commands one at a time: name, how to open a slot, what is measured."""

    key: ClassVar[str]
    label: ClassVar[str]
    kind: ClassVar[str] = "peer"  # "baseline" | "cgseq" | "peer"
    note: ClassVar[str] = ""

    def __init__(self, binary: str) -> None:
        """``binary``: path of the tool (or the command prefix's first word)."""
        self.binary = binary

    @abstractmethod
    def open(self, workspace: Workspace, tag: str = "slot") -> Slot:
        """A new slot of this tool inside ``workspace``."""


class BareSlot(Slot):
    """No tool: the command itself (for baselines)."""

    def argv(self, cmd: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """``cmd`` unchanged."""
        no_options(self, options)
        return list(cmd)


class Bare(Runner):
    """The baseline: the command run directly, no exclusivity."""

    key = "bare"
    label = "bare"
    kind = "baseline"
    note = "the command itself, spawned by the bench"

    def open(self, workspace: Workspace, tag: str = "slot") -> Slot:
        """A pass-through slot."""
        return BareSlot(self, workspace, unique_name(tag))


def no_options(slot: Slot, options: Sequence[str]) -> None:
    """Peers have no cgseq options; passing some is a bench bug."""
    if options:
        raise BenchError(f"{slot.runner.key} takes no cgseq options: {options}")
