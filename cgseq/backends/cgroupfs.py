"""Shared cgroup-file helpers for the cgroup1, cgroup2 and systemd backends.

Everything that reads or writes a cgroup control file goes through here: finding the
hierarchies (``/proc/self/mountinfo``, read by :mod:`cgseq.procfs`) and a process's group,
reading keyed files (``memory.events``, ``pids.events``, ``memory.oom_control``,
``cgroup.events``), writing a limit and reading it back (or only checking it: systemd
writes the scope's), creating and removing group directories, killing a group's processes, and
finding the groups of supervisors that died (``reap_orphans``).

Safety rule: cgseq only writes below ``<hierarchy>/<parent>/`` (``CGSEQ_CGROUP_PARENT``,
default ``cgseq``) and only removes directories whose name is one of its job ids. A
record from the state dir (which anyone who can write it can forge) is held to the same
rule before anything it names is touched, and only once its job's supervisor is dead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISDIR

from cgseq import jobids, procfs
from cgseq.errors import BackendUnavailable

DEFAULT_PARENT = "cgseq"
PARENT_ENV = "CGSEQ_CGROUP_PARENT"
V1_CONTROLLERS = ("memory", "pids", "freezer")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_KILL_ROUNDS = 50  # freeze + SIGKILL rounds before giving up (each waits up to ~0.2 s)


# ---------------------------------------------------------------- names and mounts


def parent_name() -> str:
    """cgseq's own parent group below each hierarchy root (``CGSEQ_CGROUP_PARENT``)."""
    name = os.environ.get(PARENT_ENV, "").strip("/") or DEFAULT_PARENT
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise BackendUnavailable("cgroup", f"bad {PARENT_ENV}={name!r}: use a relative name")
    return name


@dataclass(frozen=True)
class Mounts:
    """Mount points of the cgroup v1 controllers and of the v2 (unified) tree."""

    v1: dict[str, Path] = field(default_factory=dict)  # controller -> mount point
    v2: Path | None = None


def find_mounts(mountinfo: str | None = None) -> Mounts:
    """The cgroup hierarchies in ``/proc/self/mountinfo`` (as seen in our mount namespace)."""
    v1: dict[str, Path] = {}
    v2: Path | None = None
    for mount in procfs.mounts(mountinfo):
        if mount.fstype == "cgroup2" and v2 is None:
            v2 = Path(mount.point)
        elif mount.fstype == "cgroup":
            for option in mount.options.split(","):
                if option in V1_CONTROLLERS:
                    v1.setdefault(option, Path(mount.point))
    return Mounts(v1, v2)


def nsdelegate(mountinfo: str | None = None) -> bool:
    """The v2 tree is mounted with ``nsdelegate`` (Linux >= 4.13; systemd mounts it so).

    Only then does a cgroup namespace confine: a process in one can move itself only
    between groups below the namespace's root, and cannot write that root's limits.
    """
    for mount in procfs.mounts(mountinfo):
        if mount.fstype == "cgroup2":
            return "nsdelegate" in mount.options.split(",")
    return False


ROOT_ESCAPES = (
    "it can still setns(2) into PID 1's cgroup namespace (CAP_SYS_ADMIN) and leave, or have "
    "a process started outside (systemd-run, cron, ssh): do not give untrusted jobs root"
)


def root_jobs_v2(mounts: Mounts) -> str:
    """What a job running as root can do to a v2 group it entered a cgroup namespace at."""
    if nsdelegate():
        return (
            "a root job runs in its own cgroup namespace (Linux >= 4.6) and, v2 being mounted "
            "with nsdelegate, cannot move itself out of its group or raise its own limits; "
            + ROOT_ESCAPES
        )
    return (
        f"a root job can move itself out of its group and go unlimited: {mounts.v2} lacks "
        "nsdelegate, so its own cgroup namespace does not stop it "
        f"(fix: mount -o remount,nsdelegate {mounts.v2}, from the initial namespace)"
    )


def own_v2_cgroup(mounts: Mounts) -> Path | None:
    """The directory of this process's own cgroup in the v2 tree (``0::/path``)."""
    return cgroup_of("self", mounts.v2) if mounts.v2 is not None else None


def cgroup_of(pid: procfs.Pid, v2_root: Path) -> Path | None:
    """The directory of ``pid``'s group in the v2 tree mounted at ``v2_root``."""
    path = procfs.v2_cgroup(pid)
    return v2_root / path.lstrip("/") if path is not None else None


# ---------------------------------------------------------------- reading and writing


def read(path: Path) -> str:
    return path.read_text().strip()


def read_int(path: Path) -> int | None:
    """A number file; ``max`` (unlimited) and missing files give None."""
    try:
        text = read(path)
    except OSError:
        return None
    return None if text == "max" or not text.lstrip("-").isdigit() else int(text)


def read_keyed(path: Path) -> dict[str, int]:
    """``key value`` lines (memory.events, pids.events, memory.oom_control, cgroup.events)."""
    values: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


def controllers(group: Path, name: str = "cgroup.controllers") -> set[str]:
    """Controllers available in (``cgroup.controllers``) or enabled below a v2 group."""
    try:
        return set(read(group / name).split())
    except OSError:
        return set()


def write(path: Path, value: str) -> None:
    with open(path, "w") as handle:  # one write(2): the kernel parses each write whole
        handle.write(value)


def set_limit(backend: str, path: Path, value: int | None) -> None:
    """Write a limit and read it back; a limit that did not take raises BackendUnavailable."""
    wanted = "max" if value is None else str(value)
    got = _write_read_back(backend, path, wanted, f"set {path.name} to {wanted} in {path.parent}")
    if not limit_matches(value, got):
        raise BackendUnavailable(
            backend, f"{path} reads back {got} after writing {wanted}: the limit is not in force"
        )


def set_exact(backend: str, path: Path, value: str) -> None:
    """Write a setting (``memory.oom.group``, ``cgroup.subtree_control``) and verify it."""
    got = _write_read_back(backend, path, value, f"write {value!r} to {path}")
    wanted = {word.lstrip("+") for word in value.split()}
    if not wanted <= set(got.split()):
        raise BackendUnavailable(backend, f"{path} reads back {got!r} after writing {value!r}")


def _write_read_back(backend: str, path: Path, value: str, action: str) -> str:
    """Write ``value`` and return what the file says now; no access is BackendUnavailable."""
    try:
        write(path, value)
        return read(path)
    except OSError as exc:
        raise BackendUnavailable(
            backend,
            f"cannot {action}: {exc.strerror}",
            hint="run as root or in a cgroup subtree delegated to this user",
        ) from exc


def limit_matches(wanted: int | None, got: str) -> bool:
    """Does a limit file reading ``got`` hold the limit ``wanted`` (None: unlimited)?"""
    if wanted is None:  # v1 "unlimited" reads back as a huge page-aligned number
        return got == "max" or (got.isdigit() and int(got) >= 1 << 62)
    if not got.isdigit():
        return False
    # memory limits are rounded down to whole pages by the kernel
    return wanted - PAGE_SIZE < int(got) <= wanted


# ---------------------------------------------------------------- groups and processes


def blocking_dir(base: Path, parent: str) -> Path | None:
    """The directory that stops us creating ``<base>/<parent>/<job>`` (not writable), or None."""
    target = base / parent
    while not target.exists() and target != base:
        target = target.parent
    return None if os.access(target, os.W_OK | os.X_OK) else target


def make_group(backend: str, path: Path, *, exist_ok: bool = False) -> None:
    try:
        path.mkdir(exist_ok=exist_ok)
    except FileNotFoundError as exc:
        raise BackendUnavailable(backend, f"cannot create {path}: parent is missing") from exc
    except OSError as exc:
        raise BackendUnavailable(
            backend,
            f"cannot create cgroup {path}: {exc.strerror}",
            hint="run as root, or give cgseq a delegated cgroup subtree (systemd Delegate=yes)",
        ) from exc


def remove_group(path: Path, timeout: float = 2.0) -> bool:
    """rmdir a (now empty) group; EBUSY is retried while the kernel finishes the exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            path.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                return False
        time.sleep(0.02)


KEPT_MARK = "cgseq-kept"  # an empty child group: "left running on purpose" (v1 and v2)


def mark_kept(paths: Iterable[Path]) -> None:
    """Mark a job group that keeps running after its supervisor (``--leftovers keep``).

    The mark lives in the group itself, so every cgseq on the machine sees it, whatever
    its state dir. (cgroup v2 cannot rename groups, so a child group is the mark.)
    """
    for path in paths:
        with contextlib.suppress(FileNotFoundError, FileExistsError):
            (path / KEPT_MARK).mkdir()


def is_kept(paths: Iterable[Path]) -> bool:
    return any((path / KEPT_MARK).is_dir() for path in paths)


def remove_if_empty(paths: Sequence[Path]) -> None:
    """A kept group goes once its last process has; never killed."""
    if any(procs(path) for path in paths):
        return
    for path in paths:
        remove_group(path / KEPT_MARK, timeout=0)
        remove_group(path, timeout=0)


def procs(path: Path) -> list[int]:
    """Processes listed in the group (Linux >= 4.x lists no zombies here, v1 or v2)."""
    try:
        return [int(line) for line in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def live_procs(path: Path) -> list[int]:
    """``procs`` minus zombies (older kernels list zombies until they are reaped)."""
    return [pid for pid in procs(path) if procfs.running(pid)]  # an unreadable one is gone


def place(backend: str, group: Path, pid: int) -> None:
    """Move ``pid`` into ``group`` and check that it really is there."""
    try:
        write(group / "cgroup.procs", str(pid))
    except OSError as exc:
        raise BackendUnavailable(
            backend,
            f"cannot move pid {pid} into {group}: {exc.strerror}",
            hint="run as root, or from inside the delegated subtree (cgroup v2 moves need "
            "write access to the common ancestor's cgroup.procs)",
        ) from exc
    if pid not in procs(group):
        raise BackendUnavailable(backend, f"pid {pid} is not in {group} after moving it")


def signal_procs(pids: Iterable[int], signum: int) -> list[int]:
    """Send ``signum`` to each pid; returns the pids that got it."""
    sent = []
    for pid in pids:
        try:
            os.kill(pid, signum)
            sent.append(pid)
        except ProcessLookupError:
            pass
    return sent


# ---------------------------------------------------------------- freezing and killing


@dataclass(frozen=True)
class Freezer:
    """How to freeze one group: the v1 freezer controller or cgroup v2 ``cgroup.freeze``."""

    group: Path
    v1: bool

    def set(self, frozen: bool) -> None:
        if self.v1:
            write(self.group / "freezer.state", "FROZEN" if frozen else "THAWED")
        else:  # cgroup.freeze: Linux >= 5.2
            write(self.group / "cgroup.freeze", "1" if frozen else "0")

    def is_frozen(self) -> bool:
        if self.v1:
            return read(self.group / "freezer.state") == "FROZEN"
        return read_keyed(self.group / "cgroup.events").get("frozen") == 1

    @classmethod
    def for_group(cls, group: Path) -> Freezer | None:
        if (group / "freezer.state").exists():
            return cls(group, v1=True)
        if (group / "cgroup.freeze").exists():
            return cls(group, v1=False)
        return None


def wait_frozen(freezer: Freezer, timeout: float = 1.0) -> bool:
    """A task in uninterruptible sleep can hold off FROZEN for a while; wait a bounded time."""
    deadline = time.monotonic() + timeout
    while not freezer.is_frozen():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def signal_frozen(freezer: Freezer | None, members: Callable[[], list[int]], signum: int) -> None:
    """Signal every member while the group is frozen, so no fork slips past the signal."""
    if freezer is None:
        signal_procs(members(), signum)
        return
    try:
        freezer.set(True)
        wait_frozen(freezer)
        signal_procs(members(), signum)
    finally:
        freezer.set(False)  # v1 frozen tasks only act on SIGKILL once thawed


def kill_v2(group: Path) -> bool:
    """``cgroup.kill`` (Linux >= 5.14) SIGKILLs the whole subtree atomically, forks included."""
    try:
        write(group / "cgroup.kill", "1")
        return True
    except OSError:
        return False


def freeze_kill(
    freezer: Freezer | None, members: Callable[[], list[int]], rounds: int = _KILL_ROUNDS
) -> list[int]:
    """Freeze, SIGKILL every member, thaw; repeat until no live member is left.

    Returns every pid that was sent SIGKILL. Without a freezer a plain SIGKILL loop
    (a fork racing the kill is caught by the next round).
    """
    killed: list[int] = []
    for _ in range(rounds):
        if not members():
            break
        signal_frozen(freezer, members, signal.SIGKILL)
        killed.extend(pid for pid in members() if pid not in killed)
        _wait_gone(members, 0.2)
    return killed


def _wait_gone(members: Callable[[], list[int]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while members():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def kill_paths(paths: Sequence[Path]) -> list[int]:
    """SIGKILL everything in these groups (one job, possibly several hierarchies)."""
    before = sorted({pid for path in paths for pid in live_procs(path)})
    for path in paths:
        if (path / "cgroup.kill").exists():
            kill_v2(path)

    def members() -> list[int]:
        return sorted({pid for path in paths for pid in live_procs(path)})

    freezers = [f for f in map(Freezer.for_group, paths) if f is not None]
    freeze_kill(freezers[0] if freezers else None, members)
    return before


def wait_empty(paths: Sequence[Path], timeout: float = 5.0) -> bool:
    return _wait_gone(lambda: [p for path in paths for p in procs(path)], timeout)


# ---------------------------------------------------------------- orphans of dead supervisors


def job_dirs_under(bases: Iterable[Path]) -> dict[str, list[Path]]:
    """Job id -> its group dirs below each base (only real dirs named like cgseq job ids)."""
    found: dict[str, list[Path]] = {}
    for base in bases:
        try:
            entries = sorted(base.iterdir())
        except OSError:
            continue
        for entry in entries:
            if real_dir(entry) and jobids.parse(entry.name) is not None:
                found.setdefault(entry.name, []).append(entry)
    return found


def real_dir(path: Path) -> bool:
    """A directory itself, not a symlink to one (``lstat``: a link is never followed)."""
    try:
        return S_ISDIR(os.lstat(path).st_mode)
    except (OSError, ValueError):  # ValueError: a NUL in a forged path
        return False


def parent_dirs(parent: str | None = None, mounts: Mounts | None = None) -> list[Path]:
    """Every place cgseq's backends create ``<parent>``: v1 controllers and the v2 tree.

    For v2 that is the tree's root and, for delegated subtrees, this process's own
    cgroup and its parent (cgroup2 moves itself into a leaf of the delegated group).
    Only those that exist as real directories.
    """
    return [base for base in _parent_places(parent, mounts) if real_dir(base)]


def _parent_places(parent: str | None = None, mounts: Mounts | None = None) -> list[Path]:
    parent = parent or parent_name()
    mounts = mounts or find_mounts()
    bases = [mounts.v1[name] / parent for name in V1_CONTROLLERS if name in mounts.v1]
    own = own_v2_cgroup(mounts)
    if mounts.v2 is not None:
        candidates = [mounts.v2, *([own, own.parent] if own is not None else [])]
        for base in candidates:
            if base.is_relative_to(mounts.v2) and base / parent not in bases:
                bases.append(base / parent)
    return bases


def reap_job(job_id: str, paths: Sequence[Path]) -> list[str]:
    """Kill and remove one dead supervisor's job groups; one line says what was done."""
    killed = kill_paths(paths)
    wait_empty(paths)
    removed = [path for path in paths if remove_group(path)]
    done = []
    if killed:
        shown = ", ".join(str(pid) for pid in killed[:8]) + (" ..." if len(killed) > 8 else "")
        done.append(f"killed {len(killed)} process(es) (pid {shown})")
    if removed:
        done.append(f"removed its group {removed[0].name} in {len(removed)} hierarchies")
    return [f"job {job_id} of a dead supervisor: {'; '.join(done)}"] if done else []


def reap_orphans(parent: str | None = None) -> list[str]:
    """Kill and remove job groups under cgseq's parent whose supervisor is dead.

    Only directories named like a cgseq job id below ``<hierarchy>/<parent>`` are
    considered, and only those whose supervisor (the pid in the id) is gone.
    """
    lines: list[str] = []
    for job_id, paths in job_dirs_under(parent_dirs(parent)).items():
        if is_kept(paths):  # --leftovers keep: never killed, removed once empty
            remove_if_empty(paths)
            continue
        if not jobids.supervisor_alive(job_id):
            lines.extend(reap_job(job_id, paths))
    return lines


def orphans(parent: str | None = None) -> dict[str, int]:
    """Job id -> processes still running, for groups whose supervisor is dead (read only)."""
    found = {}
    for job_id, paths in job_dirs_under(parent_dirs(parent)).items():
        if not is_kept(paths) and not jobids.supervisor_alive(job_id):
            running = {pid for path in paths for pid in procs(path)}
            if running:
                found[job_id] = len(running)
    return found


def reap_record(backend: str, record: dict[str, object]) -> list[str]:
    """``Backend.reap`` for the cgroup backends: only groups cgseq can verify as its own.

    The record is untrusted (anyone who can write the state dir can forge it): each group
    must be ``<cgseq's parent>/<job id>`` (see :func:`paths_from_record`), and the job id's
    supervisor must be dead.
    """
    job_id, paths = paths_from_record(backend, record)
    if jobids.supervisor_alive(job_id):  # a live supervisor still owns its job
        return []
    if is_kept(paths):  # --leftovers keep: never killed, removed once empty
        remove_if_empty(paths)
        return []
    return reap_job(job_id, paths)


def paths_from_record(backend: str, record: dict[str, object]) -> tuple[str, list[Path]]:
    """The record's job id and its groups that exist; refuses anything cgseq did not create.

    Each path must be exactly ``<parent dir>/<job id>`` for one of this backend family's
    parent dirs (``<hierarchy>/<CGSEQ_CGROUP_PARENT>``) and, where it exists, a real
    directory below a real directory. A group already gone is skipped.
    """
    job_id, raw = record.get("job_id"), record.get("paths")
    if not isinstance(job_id, str) or jobids.parse(job_id) is None:
        raise BackendUnavailable(backend, f"record has no job id ({str(job_id)[:40]!r}): untouched")
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise BackendUnavailable(backend, f"record of job {job_id} has no list of paths: untouched")
    allowed = {base / job_id for base in _parent_places()}
    paths = [Path(item) for item in raw]
    for path in paths:
        if path not in allowed or (os.path.lexists(path) and not _real_group(path)):
            raise BackendUnavailable(
                backend,
                f"record names {str(path)[:200]!r}, not group {job_id} below cgseq's parent "
                f"{parent_name()!r}: untouched",
            )
    return job_id, [path for path in paths if real_dir(path)]


def _real_group(path: Path) -> bool:
    return real_dir(path) and real_dir(path.parent)
