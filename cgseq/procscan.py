"""A cheap view of this process's descendants on Linux, for the poll backend's sampling.

psutil finds descendants by reading ``/proc/<pid>/stat`` of every process on the machine
each time. This walks only the job's own tree through ``/proc/<pid>/task/<tid>/children``
(Linux >= 3.5, CONFIG_PROC_CHILDREN) and gets state and RSS from one ``stat`` read per
process, through file descriptors kept open between samples (``pread`` on a /proc fd is
bound to that very process: a reused pid cannot be mistaken for it). What it reads is
parsed by :mod:`cgseq.procfs`, which also lists the open and mapped files.

It also counts what the kernel's controllers count: tasks (threads, ``stat`` field 20, as
the pids controller does) and anonymous resident memory (``statm`` resident − shared,
Linux >= 2.6: shared is file-backed + shmem, which a memory cgroup reclaims or which is
counted once per file instead, see :func:`tmpfs_held`).
"""

from __future__ import annotations

import contextlib
import os
from typing import NamedTuple

from cgseq import procfs

MAX_KEPT_FDS = 400  # beyond this, files are opened per sample (stay far below RLIMIT_NOFILE)
THREADS_EVERY = 10  # re-list a process's threads (who may fork) every N samples


def supported() -> bool:
    return procfs.children_supported()


class Proc(NamedTuple):
    """One process of the tree, as one pass read it."""

    pid: int
    state: str  # stat field 3
    tasks: int  # stat field 20, num_threads: what the pids controller charges
    rss: int  # bytes resident, file-backed pages included (stat field 24)
    anon: int  # bytes resident that are neither file-backed nor shmem (0 unless anon=True)


class ProcScanner:
    """``scan()`` → ``[(pid, rss bytes, state)]`` of live descendants of ``root``.

    ``processes()`` gives the whole :class:`Proc` (with ``anon=True``: one more ``statm``
    read per process), and with ``dead=True`` zombies too (they hold a pid until reaped).
    """

    def __init__(self, root: int | None = None, anon: bool = False) -> None:
        self.root = root or os.getpid()
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.anon = anon
        self.fds: dict[str, int] = {}  # /proc path -> open fd
        self.threads: dict[int, list[int]] = {}
        self.alive: set[int] = set()  # the tree's pids at the last pass
        self.samples = 0

    def scan(self) -> list[tuple[int, int, str]]:
        return [(proc.pid, proc.rss, proc.state) for proc in self.processes()]

    def processes(self, dead: bool = False) -> list[Proc]:
        self.samples += 1
        found: list[Proc] = []
        frontier = [self.root]
        while frontier:
            for child in self._children(frontier.pop()):
                proc = self._proc(child)
                if proc is None:
                    continue
                found.append(proc)
                frontier.append(child)
        self._forget({proc.pid for proc in found})
        return found if dead else [proc for proc in found if proc.state not in procfs.DEAD_STATES]

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def _children(self, pid: int) -> list[int]:
        children: list[int] = []
        for tid in self._tasks(pid):
            text = self._read(procfs.path(pid, "task", tid, "children"))
            if text:
                children.extend(procfs.parse_children(text))
        return children

    def _tasks(self, pid: int) -> list[int]:
        tasks = self.threads.get(pid)
        if tasks is None or self.samples % THREADS_EVERY == 0:
            try:
                tasks = [int(tid) for tid in os.listdir(procfs.path(pid, "task"))]
            except OSError:
                tasks = []
            self.threads[pid] = tasks
        return tasks

    def _proc(self, pid: int) -> Proc | None:
        text = self._read(procfs.path(pid, "stat"))
        if not text:
            return None
        found = procfs.parse_stat(text)
        tasks, rss = max(1, found.num_threads), found.rss * self.page
        return Proc(pid, found.state, tasks, rss, self._anon(pid) if self.anon else 0)

    def _anon(self, pid: int) -> int:
        text = self._read(procfs.path(pid, "statm"))
        if not text:
            return 0
        resident, shared = procfs.parse_statm(text)
        return (resident - shared) * self.page

    def _read(self, path: str) -> str | None:
        fd = self.fds.get(path)
        try:
            if fd is None:
                return self._read_new(path)
            return os.pread(fd, 65536, 0).decode()
        except OSError:  # the process is gone (ESRCH) or the thread exited
            self._drop(path)
            return None

    def _read_new(self, path: str) -> str:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        data = os.pread(fd, 65536, 0).decode()
        if len(self.fds) < MAX_KEPT_FDS:
            self.fds[path] = fd
        else:
            os.close(fd)
        return data

    def _drop(self, path: str) -> None:
        fd = self.fds.pop(path, None)
        if fd is not None:
            os.close(fd)

    def _forget(self, alive: set[int]) -> None:
        """Close the fds of processes that left the tree."""
        alive.add(self.root)
        if alive == self.alive:
            return  # the same tree as last time: nothing to close (most samples)
        self.alive = alive
        for path in [p for p in self.fds if int(p.split("/")[2]) not in alive]:
            self._drop(path)
        for pid in [p for p in self.threads if p not in alive]:
            del self.threads[pid]


# tmpfs and shmem objects outside any mount (kernel-internal shm mount): memfd_create
# (Linux >= 3.17), MAP_SHARED|MAP_ANONYMOUS mappings, System V shared memory.
SHMEM_NAMES = ("/memfd:", "/dev/zero (deleted)", "/SYSV")


class TmpfsMounts(NamedTuple):
    paths: tuple[str, ...]  # mount points, to pick candidate links by name before a stat
    devs: frozenset[int]  # st_dev of each: what the stat must show


class TmpfsFile(NamedTuple):
    """A tmpfs or shmem file a process holds, by its inode; ``size`` is allocated bytes."""

    dev: int
    ino: int
    size: int  # st_blocks * 512: what the file really occupies (holes cost nothing)
    uid: int
    name: str  # the link text: a path, "/memfd:x (deleted)", "/dev/zero (deleted)", ...
    via: str  # the /proc link it was found through (stats to it while it is held)


def tmpfs_mounts() -> TmpfsMounts:
    """tmpfs mounts from ``/proc/self/mountinfo`` (Linux >= 2.6.26)."""
    paths, devs = [], set()
    for mount in procfs.mounts():
        if mount.fstype == "tmpfs":
            major, _, minor = mount.device.partition(":")
            devs.add(os.makedev(int(major), int(minor)))
            paths.append(mount.point)
    return TmpfsMounts(tuple(paths), frozenset(devs))


def tmpfs_held(pid: int, mounts: TmpfsMounts) -> list[TmpfsFile]:
    """tmpfs/shmem files ``pid`` holds open (``fd/``) or mapped (``maps``), once each.

    Mapped objects are stat'ed through ``map_files/`` (Linux >= 3.3; needs
    CAP_SYS_ADMIN, >= 5.9 CAP_CHECKPOINT_RESTORE); without it, by their path if they
    still have one.
    """
    found: dict[tuple[int, int], TmpfsFile] = {}
    for via, name in procfs.fd_links(pid) + procfs.mapped_files(pid):
        if name.startswith(SHMEM_NAMES) or _under(name, mounts.paths):
            held = stat_held(via, name, mounts)
            if held is not None:
                found.setdefault((held.dev, held.ino), held)
    return list(found.values())


def _under(name: str, mounts: tuple[str, ...]) -> bool:
    return any(name.startswith(mount.rstrip("/") + "/") for mount in mounts if mount != "/")


def stat_held(via: str, name: str, mounts: TmpfsMounts, by_name: bool = True) -> TmpfsFile | None:
    """The file behind ``via`` (else behind ``name``), if it is a tmpfs/shmem file."""
    for path in (via, name) if by_name else (via,):
        try:
            st = os.stat(path)
        except OSError:
            continue
        if st.st_dev in mounts.devs or name.startswith(SHMEM_NAMES):
            return TmpfsFile(st.st_dev, st.st_ino, st.st_blocks * 512, st.st_uid, name, via)
        return None
    return None


def dir_inodes(path: str) -> set[tuple[str, int]]:
    """(name, inode) of each entry of ``path``: what was there before."""
    with contextlib.suppress(OSError), os.scandir(path) as entries:
        return {(entry.name, entry.inode()) for entry in entries}
    return set()


def holders(keys: set[tuple[int, int]], skip: set[int], mounts: TmpfsMounts) -> set[int] | None:
    """Pids outside ``skip`` that hold any of the (dev, ino) ``keys``, over the whole machine.

    ``None`` when some process could not be looked at (another user's, without root):
    then nobody can say that no one else holds the files.
    """
    found: set[int] = set()
    for pid in procfs.pids():
        if pid in skip:
            continue
        if not procfs.fds_readable(pid):
            return None
        if any((held.dev, held.ino) in keys for held in tmpfs_held(pid, mounts)):
            found.add(pid)
    return found
