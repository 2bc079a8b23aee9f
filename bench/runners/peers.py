"""The peers as runners: flock, GNU parallel's sem, task-spooler (tsp) and nq.

Blocking tools (flock, sem --fg, tsp -f) are one Popen each; nq detaches, so its jobs are
tracked by the pid in the job id.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from bench import procfs
from bench.processes import stop_foreign
from bench.runners.base import (
    BenchError,
    Completed,
    Job,
    Output,
    PopenJob,
    Runner,
    Slot,
    no_options,
)
from bench.workspace import Workspace, unique_name


class FlockSlot(Slot):
    """``flock LOCKFILE cmd``: blocks on an exclusive flock(2) of a file in the workspace."""

    def argv(self, cmd: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """``flock FILE cmd``."""
        no_options(self, options)
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
        no_options(self, options)
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
        no_options(self, options)
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
        no_options(self, options)
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


class TqSlot(Slot):
    """agent-task-queue: ``tq --data-dir DIR run -q NAME cmd`` blocks until its turn."""

    def argv(self, cmd: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """``tq`` passes a ``--`` on to the command, so none is given."""
        no_options(self, options)
        data = str(self.workspace.path(self.name + ".tq"))
        return [self.runner.binary, "--data-dir", data, "run", "-q", self.name, *cmd]


class Tq(Runner):
    """agent-task-queue (PyPI), its CLI ``tq``."""

    key = "tq"
    label = "tq"
    note = "`tq --data-dir DIR run -q NAME cmd` (agent-task-queue from PyPI, private data dir)"

    def open(self, workspace: Workspace, tag: str = "slot") -> Slot:
        """A fresh queue name and data dir."""
        return TqSlot(self, workspace, unique_name(tag))


def peer_runners(paths: dict[str, str]) -> list[Runner]:
    """The installed peers, in table order."""
    classes: list[type[Runner]] = [Flock, Sem, Nq, Tsp, Tq]
    return [cls(paths[cls.key]) for cls in classes if cls.key in paths]
