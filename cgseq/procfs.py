"""The one reader of ``/proc``: what cgseq asks the kernel about a process.

On Linux everything comes from ``/proc``: ``<pid>/stat`` (one parser, :func:`parse_stat`),
``<pid>/cgroup``, ``<pid>/environ``, ``<pid>/task/<tid>/children``, ``self/mountinfo``.
Where there is no ``/proc`` (macOS) the same questions go to psutil, imported inside the
fallback only: queued waiters call this module, and psutil's import costs 12 ms on the
hand-off path. So this module imports only ``os``, ``sys``, ``time`` and ``typing``.

A process's *start* is the moment the kernel started it, as the kernel keeps it: on Linux
``stat`` field 22 (clock ticks after boot, on CLOCK_BOOTTIME's base since Linux 5.3, so a
step of the wall clock cannot move it); elsewhere psutil's create time in ms.
"""

from __future__ import annotations

import os
import sys
import time
from typing import NamedTuple

LINUX = sys.platform.startswith("linux")
JOB_ENV = "CGSEQ_JOB_ID"  # the job's id in its environment: what marks a job's processes
PF_EXITING = 0x4  # include/linux/sched.h; set before a dying task closes its files
DEAD_STATES = ("Z", "X")  # a zombie has exited, only its parent has not reaped it
BOOT_CLOCK: int | None = getattr(time, "CLOCK_BOOTTIME", None)  # Linux >= 2.6.39
START_SLACK = 0 if LINUX else 1  # psutil's create time is the same float each time: 1 ms

Pid = int | str  # a pid, or "self"


# ---------------------------------------------------------------- /proc/<pid>/stat


class Stat(NamedTuple):
    """The fields of ``/proc/<pid>/stat`` cgseq uses (numbered from 1, as in proc(5))."""

    state: str  # 3: R, S, D, T, Z (zombie), X (dead), ...
    ppid: int  # 4
    pgrp: int  # 5
    flags: int  # 9: PF_* bits (PF_EXITING)
    num_threads: int  # 20: what the pids controller charges
    starttime: int  # 22: clock ticks after boot
    rss: int  # 24: resident pages, file-backed ones included

    @property
    def dead(self) -> bool:
        return self.state in DEAD_STATES


def parse_stat(text: str) -> Stat:
    """One ``stat`` line; the comm (field 2) may hold spaces and ``)``: it ends at the last."""
    fields = text.rpartition(")")[2].split()  # fields[0] is field 3
    return Stat(
        fields[0],
        int(fields[1]),
        int(fields[2]),
        int(fields[6]),
        int(fields[17]),
        int(fields[19]),
        int(fields[21]),
    )


def read_stat(pid: Pid) -> Stat:
    """``/proc/<pid>/stat``; OSError when it cannot be read (FileNotFoundError: gone)."""
    with open(f"/proc/{pid}/stat") as handle:
        return parse_stat(handle.read())


def stat(pid: Pid) -> Stat | None:
    """``/proc/<pid>/stat``, or None when it cannot be read (gone, hidden, no /proc)."""
    try:
        return read_stat(pid)
    except OSError:
        return None


# ---------------------------------------------------------------- questions about a process


class Liveness(NamedTuple):
    running: bool | None  # True: it runs; False: gone, a zombie or exiting; None: cannot tell
    start: int | None  # its start (see the module docstring), when it runs


def liveness(pid: int) -> Liveness:
    """Does ``pid`` run, and since when, read in one look (so both are of one process)."""
    if not LINUX:
        return liveness_by_psutil(pid)
    try:
        found = read_stat(pid)
    except (FileNotFoundError, ProcessLookupError):
        return Liveness(None if _pid_exists(pid) else False, None)  # hidden from our /proc?
    except OSError:
        return Liveness(None, None)
    if found.dead or found.flags & PF_EXITING:  # dying: its locks are already gone
        return Liveness(False, None)
    return Liveness(True, found.starttime)


def start(pid: int) -> int | None:
    """The process's start (see the module docstring); None when it cannot be read."""
    if not LINUX:
        return start_by_psutil(pid)
    found = stat(pid)
    return found.starttime if found is not None else None


def running(pid: int) -> bool:
    """It exists and is not a zombie; False when it cannot be read."""
    if not LINUX:
        return running_by_psutil(pid)
    found = stat(pid)
    return found is not None and not found.dead


def parent(pid: int) -> int | None:
    """The parent's pid; None when it cannot be read."""
    if not LINUX:
        return parent_by_psutil(pid)
    found = stat(pid)
    return found.ppid if found is not None else None


def age(pid: int) -> float | None:
    """Seconds since the kernel started ``pid``, on the boot clock; None without /proc."""
    started = started_ns(pid)
    if started is None or BOOT_CLOCK is None:
        return None
    return max(0.0, (time.clock_gettime_ns(BOOT_CLOCK) - started) / 1e9)


def started_ns(pid: Pid) -> int | None:
    """When the kernel started ``pid``, in ns on CLOCK_BOOTTIME; None without it or /proc."""
    if BOOT_CLOCK is None:
        return None
    found = stat(pid)
    if found is None:
        return None
    return found.starttime * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def env_marked(pid: int, job_id: str) -> bool:
    """``CGSEQ_JOB_ID=<job_id>`` is in its environment; False when it cannot be read."""
    if not LINUX:
        return environ_by_psutil(pid).get(JOB_ENV) == job_id
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read()
    except OSError:
        return False
    return f"{JOB_ENV}={job_id}".encode() in environ.split(b"\0")


def children(pid: int) -> list[int]:
    """Its children, from every thread's ``children`` file (Linux >= 3.5)."""
    if not LINUX:
        return children_by_psutil(pid)
    found: list[int] = []
    try:
        tasks = os.listdir(path(pid, "task"))
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(path(pid, "task", tid, "children")) as handle:
                found.extend(parse_children(handle.read()))
        except OSError:
            continue  # the thread exited meanwhile
    return found


def _pid_exists(pid: int) -> bool:
    """Does the pid exist, though /proc does not show it (hidepid, no /proc)? Then unsure."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: it exists, owned by someone else
    return True


def name(pid: int) -> str:
    """Its command name (``comm``), ``?`` when it cannot be read."""
    if not LINUX:
        return name_by_psutil(pid)
    try:
        with open(path(pid, "comm")) as handle:
            return handle.read().strip()
    except OSError:
        return "?"


def pids() -> list[int]:
    """Every pid ``/proc`` shows (in our pid namespace, as far as hidepid lets us see)."""
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def path(pid: Pid, *names: int | str) -> str:
    """``/proc/<pid>/<names...>``, for a reader that keeps its own file descriptors."""
    return "/".join(("/proc", str(pid), *map(str, names)))


def children_supported() -> bool:
    """``/proc/<pid>/task/<tid>/children`` exists (Linux >= 3.5, CONFIG_PROC_CHILDREN)."""
    pid = os.getpid()
    return os.path.exists(path(pid, "task", pid, "children"))


def parse_children(text: str) -> list[int]:
    return [int(field) for field in text.split()]


def parse_statm(text: str) -> tuple[int, int]:
    """``/proc/<pid>/statm`` (size resident shared text lib data dt): (resident, shared) pages."""
    fields = text.split()
    return int(fields[1]), int(fields[2])


# ---------------------------------------------------------------- open and mapped files


def fd_links(pid: int) -> list[tuple[str, str]]:
    """(``/proc/<pid>/fd/<n>``, what it links to) for each open file; [] when unreadable."""
    base = path(pid, "fd")
    try:
        fds = os.listdir(base)
    except OSError:
        return []
    links = []
    for fd in fds:
        try:
            links.append((f"{base}/{fd}", os.readlink(f"{base}/{fd}")))
        except OSError:
            continue  # closed meanwhile
    return links


def fds_readable(pid: int) -> bool:
    """Can we list its open files (ours, or we are root)? A gone process holds none: True."""
    try:
        os.listdir(path(pid, "fd"))
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def mapped_files(pid: int) -> list[tuple[str, str]]:
    """(``map_files`` link, path) of each distinct file ``pid`` maps; [] when unreadable.

    The link (Linux >= 3.3) stats to the mapped file itself; reading it needs
    CAP_SYS_ADMIN (>= 5.9 CAP_CHECKPOINT_RESTORE).
    """
    try:
        with open(path(pid, "maps")) as handle:
            text = handle.read()
    except OSError:
        return []
    seen: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split(None, 5)  # range perms offset dev inode path
        if len(fields) == 6 and fields[5].startswith("/") and fields[5] not in seen:
            seen[fields[5]] = path(pid, "map_files", fields[0])
    return [(via, name) for name, via in seen.items()]


def shmem_bytes() -> int:
    """The machine's shmem (tmpfs + shared anonymous) in bytes, ``/proc/meminfo`` Shmem."""
    try:
        with open("/proc/meminfo", "rb") as handle:
            text = handle.read()
    except OSError:
        return 0
    start = text.find(b"\nShmem:")
    return int(text[start + 7 : text.find(b"kB", start)]) << 10 if start >= 0 else 0


# ---------------------------------------------------------------- cgroups and mounts


def cgroups(pid: Pid) -> dict[str, str] | None:
    """``/proc/<pid>/cgroup`` as :func:`parse_cgroup` gives it; None when unreadable.

    Where there are no cgroups (not Linux), ``{}``.
    """
    if not LINUX:
        return {}
    try:
        with open(f"/proc/{pid}/cgroup") as handle:
            return parse_cgroup(handle.read())
    except OSError:
        return None


def parse_cgroup(text: str) -> dict[str, str]:
    """Controller -> the process's group path; ``""`` is the v2 (unified) tree.

    ``0::/path`` is cgroup v2; ``4:memory:/path`` or ``1:name=systemd:/path`` are v1
    hierarchies (hybrid hosts have both). The path may itself hold ``:``.
    """
    found: dict[str, str] = {}
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        names, _, path = rest.partition(":")
        if hierarchy == "0" and not names:
            found.setdefault("", path)
        for name in names.split(",") if names else ():
            found.setdefault(name, path)
    return found


def v2_cgroup(pid: Pid = "self") -> str | None:
    """The process's group in the v2 tree (``0::/path``), as a path from the tree's root."""
    return (cgroups(pid) or {}).get("")


class Mount(NamedTuple):
    """One line of ``/proc/self/mountinfo`` (Linux >= 2.6.26), the fields cgseq uses."""

    device: str  # field 3: "major:minor" (st_dev of files on it)
    point: str  # field 5, unescaped
    fstype: str  # first field after " - "
    options: str  # super options, comma-separated (e.g. nsdelegate)


def mounts(mountinfo: str | None = None) -> list[Mount]:
    """The mounts of our mount namespace (or of the ``mountinfo`` text); [] when unreadable."""
    if mountinfo is None:
        try:
            with open("/proc/self/mountinfo") as handle:
                mountinfo = handle.read()
        except OSError:
            return []
    return parse_mountinfo(mountinfo)


def parse_mountinfo(text: str) -> list[Mount]:
    found = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")  # optional fields come before " - "
        fields, extra = left.split(), right.split()
        if len(fields) >= 5 and len(extra) >= 3:
            found.append(Mount(fields[2], unescape(fields[4]), extra[0], extra[2]))
    return found


def unescape(path: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        path = path.replace(code, char)
    return path


# ---------------------------------------------------------------- without /proc: psutil


def liveness_by_psutil(pid: int) -> Liveness:
    import psutil  # off the Linux hot path: used only where there is no /proc (and by tests)

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return Liveness(False, None)
        return Liveness(True, int(process.create_time() * 1000))
    except psutil.NoSuchProcess:
        return Liveness(False, None)
    except psutil.Error:
        return Liveness(None, None)


def start_by_psutil(pid: int) -> int | None:
    """psutil's create time in ms (where there is no /proc: macOS).

    On macOS this is the kernel's recorded start (``p_starttime``), which a step of the wall
    clock does not rewrite, so it matches at check time what it was when an id was made.
    """
    import psutil

    try:
        return int(psutil.Process(pid).create_time() * 1000)
    except psutil.Error:
        return None


def running_by_psutil(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def parent_by_psutil(pid: int) -> int | None:
    import psutil

    try:
        return int(psutil.Process(pid).ppid())
    except psutil.Error:
        return None


def environ_by_psutil(pid: int) -> dict[str, str]:
    import psutil

    try:
        return dict(psutil.Process(pid).environ())
    except psutil.Error:
        return {}


def name_by_psutil(pid: int) -> str:
    import psutil

    try:
        return str(psutil.Process(pid).name())
    except psutil.Error:
        return "?"


def children_by_psutil(pid: int) -> list[int]:
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def lock_holders(fd: int) -> set[int] | None:
    """The pids holding a lock (flock or POSIX, granted, not waiting) on ``fd``'s file.

    From ``/proc/locks``: what proves a pid is the live owner of a ticket or a slot, where
    a record's pid alone proves nothing. None where there is no ``/proc/locks``.
    """
    info = os.fstat(fd)
    where = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks") as handle:
            text = handle.read()
    except OSError:
        return None
    return parse_locks(text, where)


def parse_locks(text: str, where: str) -> set[int]:
    """Granted locks' pids on ``where`` (``MAJ:MIN:INODE``, as /proc/locks spells it)."""
    holders = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[1] != "->" and fields[5] == where:
            holders.add(int(fields[4]))
    return holders
