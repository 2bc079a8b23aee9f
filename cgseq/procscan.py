"""A cheap view of this process's descendants on Linux, for the poll backend's sampling.

psutil finds descendants by reading ``/proc/<pid>/stat`` of every process on the machine
each time. This walks only the job's own tree through ``/proc/<pid>/task/<tid>/children``
(Linux >= 3.5, CONFIG_PROC_CHILDREN) and gets state and RSS from one ``stat`` read per
process, through file descriptors kept open between samples (``pread`` on a /proc fd is
bound to that very process: a reused pid cannot be mistaken for it).
"""

from __future__ import annotations

import contextlib
import os

MAX_KEPT_FDS = 400  # beyond this, files are opened per sample (stay far below RLIMIT_NOFILE)
THREADS_EVERY = 10  # re-list a process's threads (who may fork) every N samples


def supported() -> bool:
    pid = os.getpid()
    return os.path.exists(f"/proc/{pid}/task/{pid}/children")


class ProcScanner:
    """``scan()`` → ``[(pid, rss bytes, state)]`` of live descendants of ``root``."""

    def __init__(self, root: int | None = None) -> None:
        self.root = root or os.getpid()
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.fds: dict[str, int] = {}  # /proc path -> open fd
        self.threads: dict[int, list[int]] = {}
        self.samples = 0

    def scan(self) -> list[tuple[int, int, str]]:
        self.samples += 1
        found: list[tuple[int, int, str]] = []
        frontier = [self.root]
        while frontier:
            for child in self._children(frontier.pop()):
                stat = self._stat(child)
                if stat is None:
                    continue
                found.append((child, stat[0], stat[1]))
                frontier.append(child)
        self._forget({pid for pid, _, _ in found})
        return [entry for entry in found if entry[2] not in ("Z", "X")]

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def _children(self, pid: int) -> list[int]:
        children: list[int] = []
        for tid in self._tasks(pid):
            text = self._read(f"/proc/{pid}/task/{tid}/children")
            if text:
                children.extend(int(field) for field in text.split())
        return children

    def _tasks(self, pid: int) -> list[int]:
        tasks = self.threads.get(pid)
        if tasks is None or self.samples % THREADS_EVERY == 0:
            try:
                tasks = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
            except OSError:
                tasks = []
            self.threads[pid] = tasks
        return tasks

    def _stat(self, pid: int) -> tuple[int, str] | None:
        text = self._read(f"/proc/{pid}/stat")
        if not text:
            return None
        fields = text.rpartition(")")[2].split()
        return int(fields[21]) * self.page, fields[0]  # field 24: rss pages; field 3: state

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
        for path in [p for p in self.fds if int(p.split("/")[2]) not in alive]:
            self._drop(path)
        for pid in [p for p in self.threads if p not in alive]:
            del self.threads[pid]


def name_of(pid: int) -> str:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/comm") as handle:
        return handle.read().strip()
    return "?"
