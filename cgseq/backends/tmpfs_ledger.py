"""The poll backend's account of tmpfs memory: files a job holds in /dev/shm (or any tmpfs),
memfds and shared anonymous memory, each counted once by (dev, inode) at its allocated size.

A memory cgroup charges tmpfs pages to the job that wrote them and cannot reclaim them
without swap, so they are the job's memory as much as its heap. ``/proc`` shows them only
through the job's open files and mappings, which are costly to list; so the ledger lists
them again only when the machine's shmem (``/proc/meminfo``) grew since the last listing,
and every ``RESCAN_EVERY`` samples. Files already known are re-stat'ed every sample.

When the job is killed, :meth:`Ledger.settle` names the files it leaves behind and removes
those that are certainly the job's (see there).
"""

from __future__ import annotations

import contextlib
import os

from cgseq import procfs, procscan
from cgseq.procscan import TmpfsFile
from cgseq.units import format_size

SHM_DIR = "/dev/shm"
RESCAN_EVERY = 300  # samples (30 s at 100 ms): growth masked by another process freeing shmem
STEP_UNLIMITED = 16 << 20  # bytes of machine shmem growth that trigger a listing (no limit)
STEP_MIN = 1 << 20

Key = tuple[int, int]  # (st_dev, st_ino)


class Ledger:
    """tmpfs files of one job; ``total()`` once per sample, ``settle()`` once, at the kill."""

    def __init__(self, memory_limit: int | None) -> None:
        self.mounts = procscan.tmpfs_mounts()
        # Made at the job's first sample, just after its release: what was there then is
        # not the job's (a file it made in those microseconds is left and reported: safe).
        self.before = procscan.dir_inodes(SHM_DIR)
        self.uid = os.getuid()
        self.step = max(STEP_MIN, memory_limit // 64) if memory_limit else STEP_UNLIMITED
        self.files: dict[Key, TmpfsFile] = {}  # every file seen held, with its latest size
        self.held: set[Key] = set()  # held by a job process at the latest look
        self.shmem_listed = -1
        self.samples = 0

    def total(self, pids: list[int]) -> int:
        """Bytes in tmpfs that the job holds, or made in /dev/shm and still leaves there."""
        self.samples += 1
        shmem = procfs.shmem_bytes()
        self.shmem_listed = min(self.shmem_listed, shmem)  # growth counts from the lowest
        if shmem - self.shmem_listed > self.step or self.samples % RESCAN_EVERY == 0:
            self.shmem_listed = shmem
            self._list(pids)
        else:
            self._restat()
        return sum(held.size for held in self.files.values())

    def largest(self, count: int = 3) -> list[TmpfsFile]:
        return sorted(self.files.values(), key=lambda held: -held.size)[:count]

    def _list(self, pids: list[int]) -> None:
        found = {(h.dev, h.ino): h for pid in pids for h in procscan.tmpfs_held(pid, self.mounts)}
        for key, known in list(self.files.items()):
            if key not in found:
                self._keep_if_left(key, known)
        self.files.update(found)
        self.held = set(found)

    def _restat(self) -> None:
        for key, known in list(self.files.items()):
            now = procscan.stat_held(known.via, known.name, self.mounts, by_name=False)
            if now is not None and (now.dev, now.ino) == key:
                self.files[key] = known._replace(size=now.size)
            else:
                self.held.discard(key)
                self._keep_if_left(key, known)

    def _keep_if_left(self, key: Key, known: TmpfsFile) -> None:
        """No job process holds it now: it stays on the job's account only if the job made
        it in /dev/shm and it is still there (its pages stay charged, as in a memory cgroup).
        """
        now = _stat_name(known.name, self.mounts) if self._made_by_job(known) else None
        if now is not None and (now.dev, now.ino) == key:
            self.files[key] = known._replace(size=now.size, via=known.name)
        else:
            self.files.pop(key, None)
            self.held.discard(key)

    def _made_by_job(self, known: TmpfsFile) -> bool:
        directory, _, name = known.name.rpartition("/")
        return directory == SHM_DIR and (name, known.ino) not in self.before

    def settle(self, job_pids: list[int]) -> list[str]:
        """With every job process stopped: name each named tmpfs file the kill leaves behind,
        and remove the ones that are certainly the job's. One line per file.

        "Certainly the job's" means all of: it sits directly in /dev/shm, and its (name,
        inode) was not there at the job's first sample (so it was made after the job
        started); it is owned by the job's user; a job process held it (open or mapped) at
        this last look, with the job stopped; and no process outside the job holds it, over
        the whole machine (which needs every process's fd/ and maps readable: as non-root,
        other users' are not, so nothing is removed). What cannot be told apart: a file
        another process of the same user made during the job, closed, and handed to the job
        by name. Anything else is left and reported, never removed.
        """
        self._list(job_pids)
        named = [(k, f) for k, f in self.files.items() if not _anonymous(f.name)]
        if not named:
            return []
        outside = procscan.holders(
            {k for k, _ in named}, set(job_pids) | {os.getpid()}, self.mounts
        )
        return [self._settle_one(key, known, outside) for key, known in named]

    def _settle_one(self, key: Key, known: TmpfsFile, outside: set[int] | None) -> str:
        doubt = self._doubt(key, known, outside)
        what = f"{known.name} {format_size(known.size)}"
        if doubt is None and _remove(known, self.mounts):
            return f"{what} removed"
        return f"{what} left ({doubt or 'it changed while it was checked'})"

    def _doubt(self, key: Key, known: TmpfsFile, outside: set[int] | None) -> str | None:
        """Why the file may not be the job's, or None when it certainly is."""
        if not known.name.startswith(SHM_DIR + "/"):
            return "not in /dev/shm"
        if not self._made_by_job(known):
            return "not made by the job: it was there before the job started"
        if known.uid != self.uid:
            return f"owned by uid {known.uid}"
        if key not in self.held:
            return "no longer held by the job"
        if outside is None:
            return "could not check every process for other holders"
        users = sorted(pid for pid in outside if key in _keys_of(pid, self.mounts))
        return f"also held by pid {users[0]}" if users else None


def _anonymous(name: str) -> bool:
    """memfds, shared anonymous memory and deleted files go with their last holder."""
    return name.startswith(procscan.SHMEM_NAMES) or name.endswith(" (deleted)")


def _stat_name(name: str, mounts: procscan.TmpfsMounts) -> TmpfsFile | None:
    return procscan.stat_held(name, name, mounts) if not _anonymous(name) else None


def _keys_of(pid: int, mounts: procscan.TmpfsMounts) -> set[Key]:
    return {(held.dev, held.ino) for held in procscan.tmpfs_held(pid, mounts)}


def _remove(known: TmpfsFile, mounts: procscan.TmpfsMounts) -> bool:
    """Unlink the name only if it still names the very inode that was checked."""
    now = _stat_name(known.name, mounts)
    if now is None or (now.dev, now.ino) != (known.dev, known.ino):
        return False
    with contextlib.suppress(OSError):
        os.unlink(known.name)
        return True
    return False
