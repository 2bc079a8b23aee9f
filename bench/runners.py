"""Runners: the tools measured side by side, behind one small interface.

A :class:`Runner` describes a tool; ``runner.open(workspace)`` gives a :class:`Slot` (one lock or
queue of that tool, private to the workspace) whose ``submit`` starts a command that waits for
the slot and ``run`` times a blocking run of it. Blocking tools (cgseq, flock, sem --fg,
tsp -f) are one Popen each; nq detaches, so its jobs are tracked by the pid in the job id.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar

from bench import procfs
from bench.processes import Popen, spawn, stop, stop_foreign, wait_for
from bench.workspace import PYTHON, Workspace, unique_name

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


# --- baselines -----------------------------------------------------------------------------


class BareSlot(Slot):
    """No tool: the command itself (for baselines)."""

    def argv(self, cmd: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """``cmd`` unchanged."""
        _no_options(self, options)
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


# --- cgseq --------------------------------------------------------------------------------


class CgseqSlot(Slot):
    """A cgseq turn named by ``--lock``, state in the workspace's own CGSEQ_STATE_DIR."""

    runner: Cgseq

    def argv(self, cmd: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """``cgseq run --lock NAME [options] -- cmd``."""
        return [*self.runner.prefix, "run", "--lock", self.name, *options, "--", *cmd]


class Cgseq(Runner):
    """cgseq, invoked as the console script or as ``python -m cgseq``."""

    kind = "cgseq"

    def __init__(self, prefix: Sequence[str], key: str, label: str, note: str) -> None:
        """``prefix``: argv before ``run`` (the script, or interpreter + ``-m cgseq``)."""
        super().__init__(prefix[0])
        self.prefix = list(prefix)
        self.key = key  # type: ignore[misc]
        self.label = label  # type: ignore[misc]
        self.note = note  # type: ignore[misc]

    def open(self, workspace: Workspace, tag: str = "slot") -> Slot:
        """A fresh lock name."""
        return CgseqSlot(self, workspace, unique_name(tag))


def find_cgseq_script() -> str | None:
    """The real ``cgseq`` console script of this interpreter (never a pyenv shim), if installed."""
    candidate = Path(sysconfig.get_path("scripts")) / "cgseq"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("cgseq")
    if found and "/shims/" not in found:
        return found
    return None


def cgseq_runners() -> list[Cgseq]:
    """cgseq as users run it (console script, if installed) and as ``python -m cgseq``."""
    runners = []
    if script := find_cgseq_script():
        runners.append(Cgseq([script], "cgseq", "cgseq", f"console script {script}"))
    runners.append(
        Cgseq(
            [PYTHON, "-m", "cgseq"],
            "cgseq-m",
            "cgseq (-m)",
            f"{PYTHON} -m cgseq (this checkout on PYTHONPATH)",
        )
    )
    return runners


# --- peers --------------------------------------------------------------------------------


class FlockSlot(Slot):
    """``flock LOCKFILE cmd``: blocks on an exclusive flock(2) of a file in the workspace."""

    def argv(self, cmd: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """``flock FILE cmd``."""
        _no_options(self, options)
        return [self.runner.binary, str(self.workspace.path(self.name + ".lock")), *cmd]


class Flock(Runner):
    """util-linux flock."""

    key = "flock"
    label = "flock"
    note = "`flock FILE cmd` (blocks in flock(2); not FIFO)"

    def open(self, workspace: Workspace, tag: str = "slot") -> Slot:
        """A fresh lock file name."""
        return FlockSlot(self, workspace, unique_name(tag))


class SemSlot(Slot):
    """GNU parallel's ``sem --fg`` on a semaphore id, PARALLEL_HOME in the workspace."""

    def argv(self, cmd: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """``sem --will-cite -q --id NAME -j1 --fg cmd`` (-q: run argv as given, no shell)."""
        _no_options(self, options)
        return [self.runner.binary, "--will-cite", "-q", "--id", self.name, "-j1", "--fg", *cmd]


class Sem(Runner):
    """GNU parallel --semaphore."""

    key = "sem"
    label = "sem"
    note = "`sem --id X -j1 --fg cmd` (a Perl program; waits by polling the semaphore)"

    def open(self, workspace: Workspace, tag: str = "slot") -> Slot:
        """A fresh semaphore id."""
        return SemSlot(self, workspace, unique_name(tag))


class TspSlot(Slot):
    """A private task-spooler server (its own TS_SOCKET); ``tsp -f -n`` blocks like a lock."""

    def __init__(self, runner: Runner, workspace: Workspace, name: str) -> None:
        """The server starts with the first client on this slot's socket."""
        super().__init__(runner, workspace, name)
        self.socket = workspace.path(name + ".sock")
        self._server: int | None = None
        self._clients: set[int] = set()

    def env(self) -> dict[str, str]:
        """The workspace environment plus this slot's TS_SOCKET."""
        return {**super().env(), "TS_SOCKET": str(self.socket), "TMPDIR": str(self.workspace.root)}

    def argv(self, cmd: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """``tsp -f -n cmd``: wait in the foreground, output straight to our fds."""
        _no_options(self, options)
        return [self.runner.binary, "-f", "-n", *cmd]

    def submit(
        self,
        cmd: Sequence[str],
        *,
        options: Sequence[str] = (),
        stdout: Output = subprocess.DEVNULL,
        stderr: Output = subprocess.DEVNULL,
    ) -> Job:
        """Start a client; remember its pid so it is never taken for the server."""
        job = super().submit(cmd, options=options, stdout=stdout, stderr=stderr)
        assert isinstance(job, PopenJob)
        self._clients.add(job.popen.pid)
        return job

    def daemon_pids(self) -> list[int]:
        """The server: the non-client ``tsp`` process whose environment has this socket."""
        if self._server is None or procfs.is_dead(self._server):
            entry = f"TS_SOCKET={self.socket}"
            name = Path(self.runner.binary).name
            self._server = next(
                (
                    pid
                    for pid in procfs.all_pids()
                    if pid not in self._clients
                    and procfs.comm(pid) == name
                    and procfs.environ_has(pid, entry)
                    and not procfs.is_dead(pid)
                ),
                None,
            )
        return [] if self._server is None else [self._server]

    def close(self) -> None:
        """``tsp -K`` on this slot's socket: the server (and its queue) go away."""
        if self.socket.exists():
            subprocess.run(
                [self.runner.binary, "-K"],
                env=self.env(),
                capture_output=True,
                timeout=10,
                check=False,
            )


class Tsp(Runner):
    """task-spooler."""

    key = "tsp"
    label = "tsp"
    note = "`tsp -f -n cmd` on a private server (TS_SOCKET); the server is a shared daemon"

    def open(self, workspace: Workspace, tag: str = "slot") -> Slot:
        """A fresh socket, so a fresh server."""
        return TspSlot(self, workspace, unique_name(tag))


class NqJob(Job):
    """An nq job: the detached nq process that waits (flock on earlier jobs), then its job.

    nq forks a *monitor* that stays in the background and forks the job process (the pid in
    the job id), which waits for the queue and then execs the command.
    """

    def __init__(self, job_id: str, monitor: int | None, starttime: int) -> None:
        """``monitor``: pid of the nq process that outlives the command (None if already gone)."""
        self.job_id = job_id
        self.monitor = monitor
        self.starttime = starttime

    def _alive(self) -> bool:
        """True while the monitor is the very process we saw start (not a recycled pid)."""
        if self.monitor is None:
            return False
        stat = procfs.read_stat(self.monitor)
        return stat is not None and stat.starttime == self.starttime and stat.state not in "ZX"

    def pids(self) -> list[int]:
        """The monitor (its tree holds the waiting job process)."""
        return [self.monitor] if self.monitor is not None and self._alive() else []

    def poll(self) -> int | None:
        """0 once the monitor is gone (the exit code is only in the job file)."""
        return None if self._alive() else 0

    def stop(self) -> None:
        """Stop the job process (its pid is in the id), then the monitor."""
        job_pid = int(self.job_id.rsplit(".", 1)[1])
        job_stat = procfs.read_stat(job_pid)
        if job_stat is not None and self._alive():
            stop_foreign(job_pid, job_stat.starttime)
        if self.monitor is not None:
            stop_foreign(self.monitor, self.starttime)


class NqSlot(Slot):
    """An nq queue: its own NQDIR inside the workspace."""

    def env(self) -> dict[str, str]:
        """The workspace environment plus this slot's NQDIR."""
        return {**super().env(), "NQDIR": str(self.workspace.path(self.name + ".nq"))}

    def argv(self, cmd: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """``nq cmd`` (prints the job id, returns at once)."""
        _no_options(self, options)
        return [self.runner.binary, *cmd]

    def submit(
        self,
        cmd: Sequence[str],
        *,
        options: Sequence[str] = (),
        stdout: Output = subprocess.DEVNULL,
        stderr: Output = subprocess.DEVNULL,
    ) -> Job:
        """Enqueue ``cmd``; the job's output goes to nq's job file, not ``stdout``."""
        done = subprocess.run(
            self.argv(cmd, options),
            env=self.env(),
            cwd=self.workspace.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
        job_id = done.stdout.decode().strip()
        if done.returncode != 0 or not job_id.startswith(","):
            raise BenchError(f"nq exited {done.returncode}: {done.stderr.decode().strip()}")
        job_stat = procfs.read_stat(int(job_id.rsplit(".", 1)[1]))
        monitor = procfs.read_stat(job_stat.ppid) if job_stat is not None else None
        if monitor is None or job_stat is None or job_stat.ppid == 1:
            return NqJob(job_id, None, 0)  # already finished
        return NqJob(job_id, monitor.pid, monitor.starttime)

    def run(
        self,
        cmd: Sequence[str],
        *,
        timeout: float,
        options: Sequence[str] = (),
        capture: bool = False,
    ) -> Completed:
        """``nq cmd`` then ``nq -w ID``: what a user does to wait for an nq job."""
        start = time.perf_counter()
        job = self.submit(cmd, options=options)
        assert isinstance(job, NqJob)
        try:
            done = subprocess.run(
                [self.runner.binary, "-w", job.job_id],
                env=self.env(),
                cwd=self.workspace.root,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            job.stop()
            raise BenchError(f"nq -w: no exit within {timeout:.0f}s") from exc
        return Completed(time.perf_counter() - start, done.returncode, b"", done.stderr)


class Nq(Runner):
    """nq (leahneukirchen/nq)."""

    key = "nq"
    label = "nq"
    note = "`nq cmd` (detaches at once) + `nq -w ID` where a blocking run is timed"

    def open(self, workspace: Workspace, tag: str = "slot") -> Slot:
        """A fresh queue directory."""
        return NqSlot(self, workspace, unique_name(tag))


def _no_options(slot: Slot, options: Sequence[str]) -> None:
    """Peers have no cgseq options; passing some is a bench bug."""
    if options:
        raise BenchError(f"{slot.runner.key} takes no cgseq options: {options}")


def peer_runners(paths: dict[str, str]) -> list[Runner]:
    """The installed peers, in table order."""
    classes: list[type[Runner]] = [Flock, Sem, Nq, Tsp]
    return [cls(paths[cls.key]) for cls in classes if cls.key in paths]
