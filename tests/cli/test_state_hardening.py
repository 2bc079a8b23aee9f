"""The state dir, distrusted: planted links, a full or broken filesystem, slot names, idle slots.

Each bad state gives one clear line (exit 125) before the job runs, or, once the job ran,
one warning line and the job's own exit code. Nothing is written through a link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import REPO, cgseq_env

from cgseq.project import lock_key, slot_for
from tests.conftest import require

pytestmark = pytest.mark.timeout(90)

FAIL = ["sh", "-c", "exit 3"]  # a job with an exit code of its own
# Our own cgroup parent: the orphan reaper's lines about other suites' dead jobs (which run
# under the shared test parent) must not show up in the one line these tests expect.
PARENT = "cgseq-test-hardening"


def env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return cgseq_env({"CGSEQ_CGROUP_PARENT": PARENT, **(extra or {})})


@pytest.fixture(scope="module", autouse=True)
def _own_parent() -> Iterator[None]:
    yield
    for parent in Path("/sys/fs/cgroup").glob(f"*/{PARENT}"):
        for group in parent.glob("*-*"):
            if group.is_dir():
                with contextlib.suppress(OSError):
                    group.rmdir()  # empty groups only: rmdir refuses a populated one
        with contextlib.suppress(OSError):
            parent.rmdir()


def slot_dir(state: Path, project: Path) -> Path:
    return state / "slots" / slot_for(str(project), None).key


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert "internal error" not in lines[0] and "Traceback" not in stderr
    return lines[0]


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# --- planted symlinks ----------------------------------------------------------------------

DIRS = ["slots", "slots/{key}", "slots/{key}/tickets"]
FILES = ["slots/{key}/next", "slots/{key}/queue.lock", "slots/{key}/slot.lock"]


@pytest.mark.parametrize("where", DIRS + FILES)
def test_a_planted_link_in_the_slot_is_refused(
    cgseq, project: Path, state_dir: Path, tmp_path: Path, where: str
) -> None:
    """Each of these was followed: files created through the link, dirs filled through it."""
    key = slot_for(str(project), None).key
    link = state_dir / where.format(key=key)
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.name != "tickets" and where in FILES:
        (link.parent / "tickets").mkdir(exist_ok=True)
    elsewhere = tmp_path / "elsewhere"
    if where in DIRS:
        elsewhere.mkdir()
        link.symlink_to(elsewhere, target_is_directory=True)
    else:
        link.symlink_to(elsewhere)  # dangling: following it creates the file
    done = cgseq("run", "--", "true", env=env())
    assert done.returncode == 125, done.stderr
    line = one_line(done.stderr)
    assert str(link) in line and "symlink" in line, line
    assert not elsewhere.exists() or list(elsewhere.iterdir()) == []
    assert link.is_symlink()  # refused, not silently replaced: a human should look at it


def history_database() -> Path:
    """Where the history is (the test's own ``XDG_STATE_HOME``), its directory made."""
    folder = Path(os.environ["XDG_STATE_HOME"]) / "cgseq"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / "history.sqlite3"


@pytest.mark.parametrize("name", ["history", "events.log"])
def test_a_planted_log_link_is_not_written_through(
    cgseq, state_dir: Path, tmp_path: Path, name: str
) -> None:
    """The history and events.log were appended to through a link; now: a warning, and
    the job's own exit code."""
    elsewhere = tmp_path / "elsewhere"
    planted = history_database() if name == "history" else state_dir / name
    planted.symlink_to(elsewhere)
    done = cgseq("run", "--verbose", "--", *FAIL, env=env())  # --verbose: the event log is written
    assert done.returncode == 3, done.stderr
    assert not elsewhere.exists()
    warnings = [line for line in done.stderr.splitlines() if str(planted) in line]
    assert len(warnings) == 1 and warnings[0].startswith("cgseq: warning:"), done.stderr
    assert "symlink" in warnings[0]


# --- a broken state dir ----------------------------------------------------------------------


def test_a_history_file_that_is_a_directory_keeps_the_jobs_exit_code(
    cgseq, state_dir: Path
) -> None:
    history_database().mkdir()
    done = cgseq("run", "--", *FAIL, env=env())
    assert done.returncode == 3, done.stderr
    line = one_line(done.stderr)
    assert line.startswith("cgseq: warning:") and "history.sqlite3" in line, line


def test_a_state_dir_in_proc_is_one_line(cgseq) -> None:
    done = cgseq("run", "--", "true", env=env({"CGSEQ_STATE_DIR": "/proc/1"}))
    assert done.returncode == 125, done.stderr
    assert "/proc/1" in one_line(done.stderr)


def test_a_slots_path_that_is_a_file_is_one_line(cgseq, state_dir: Path) -> None:
    (state_dir / "slots").write_text("")
    done = cgseq("run", "--", "true", env=env())
    assert done.returncode == 125, done.stderr
    line = one_line(done.stderr)
    assert str(state_dir / "slots") in line and "not a directory" in line, line


# --- a full state filesystem -----------------------------------------------------------------


@pytest.fixture
def small_state(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs as the state dir."""
    require("root", os.getuid() == 0, "mounts a tmpfs")
    path = tmp_path / "small-state"
    path.mkdir(mode=0o700)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=700", "tmpfs", str(path)],
        check=True,
        timeout=30,
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True, timeout=30)


def fill(directory: Path, leave_pages: int = 0) -> None:
    """Fill the filesystem with one file of our own, then give back ``leave_pages`` pages."""
    path = directory / "fill"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    size = path.stat().st_size
    os.truncate(path, max(0, (size // 4096 - leave_pages) * 4096))


@pytest.mark.parametrize("pages", [0, 1, 2], ids=["counter", "ticket", "holder-record"])
def test_a_full_state_filesystem_fails_fast_and_leaves_nothing(
    cgseq, small_state: Path, pages: int
) -> None:
    """Which write meets ENOSPC depends on the pages left: the ticket counter, the ticket,
    or the holder record (that one waited 8.2 s, said "internal error: OSError(28…)" and
    left .holder.json.<pid> behind)."""
    state_env = env({"CGSEQ_STATE_DIR": str(small_state)})
    assert cgseq("run", "--", "true", env=state_env).returncode == 0
    fill(small_state, pages)
    before = tree(small_state)
    started = time.monotonic()
    done = cgseq("run", "--", "true", env=state_env)
    took = time.monotonic() - started
    assert done.returncode == 125, done.stderr
    line = one_line(done.stderr)
    assert str(small_state) in line and "No space left" in line and "ENOSPC" in line, line
    assert took < 3.0, f"took {took:.1f}s"  # python start-up on a loaded machine, no retry loop
    assert tree(small_state) == before


FILL_AND_PIN = """
import os, sys
state = sys.argv[1]
pin = os.path.join(state, "pin")
os.mkdir(pin)
fd = os.open(os.path.join(state, "fill"), os.O_WRONLY | os.O_CREAT, 0o600)
try:
    while True:
        os.write(fd, b"\\0" * 4096)
except OSError:
    pass
# pin the slot's files: removing them after the job then frees no space for the history
for number, (root, _, files) in enumerate(os.walk(os.path.join(state, "slots"))):
    for name in files:
        os.link(os.path.join(root, name), os.path.join(pin, f"{number}-{name}"))
sys.exit(3)
"""


def test_a_full_filesystem_after_the_job_keeps_its_exit_code(cgseq, small_state: Path) -> None:
    """Only the history write meets ENOSPC, after the job ran: was exit 125, internal error.
    (The history database is made on the same full filesystem.)"""
    state_env = env({"CGSEQ_STATE_DIR": str(small_state), "XDG_STATE_HOME": str(small_state)})
    done = cgseq("run", "--", sys.executable, "-c", FILL_AND_PIN, small_state, env=state_env)
    assert done.returncode == 3, done.stderr
    line = one_line(done.stderr)
    assert line.startswith("cgseq: warning:") and "history" in line, line


# --- slot names and idle slots ---------------------------------------------------------------


def test_lock_names_map_one_to_one() -> None:
    names = ["a/b", "a_b", "a%2Fb", "a b", "a:b", "ü", "u", "..", ".", "-", "x" * 300]
    names += ["x" * 299 + "y", "x" * 64 + "~", "x" * 64 + "%7E"]
    keys = [lock_key(name) for name in names]
    assert len(set(keys)) == len(names), list(zip(names, keys, strict=True))
    for key in keys:
        assert "/" not in key and "\0" not in key and len("lock-" + key) <= 255
    assert lock_key("ci-shared.1") == "ci-shared.1"  # plain names stay readable (and unchanged)


def test_locks_a_slash_b_and_a_underscore_b_are_different_slots(cgseq, hold, work: Path) -> None:
    holder = hold("holder", "--lock", "a/b")
    done = cgseq("run", "--lock", "a_b", "--wait-timeout", "5", "--", "true")
    assert done.returncode == 0, done.stderr  # before: waited behind --lock a/b, then 125
    holder.release()
    assert holder.run.wait(30) == 0


def test_an_idle_slots_directory_is_removed(cgseq, project: Path, state_dir: Path) -> None:
    assert cgseq("run", "--", "true", env=env()).returncode == 0
    assert not slot_dir(state_dir, project).exists()
    assert list((state_dir / "slots").iterdir()) == []


CONTENDER = """
import os, random, sys, time
from pathlib import Path
from cgseq.queue import turns
from cgseq.queue.records import TicketRecord
slot, name, rounds, log = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
def mark(what):
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, f"{what} {name}\\n".encode())
    os.close(fd)
for n in range(rounds):
    turn = turns.queue_up(slot, TicketRecord(pid=os.getpid(), argv=(name,)))
    turn.wait(30)
    mark("start")
    mark("end")
    turn.release()  # the slot is empty now and then: its directory goes, and comes back
    time.sleep(random.random() / 200)  # spread arrivals, so the queue empties often
"""


@pytest.mark.timeout(120)
def test_removing_idle_slots_never_lets_two_holders_overlap(state_dir: Path, tmp_path: Path):
    """8 contenders x 15 turns in one slot whose directory is removed whenever it is idle."""
    slot, log = state_dir / "slots" / "stress", tmp_path / "marks"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONTENDER, str(slot), f"c{i}", "15", str(log)], env=env
        )
        for i in range(8)
    ]
    for proc in procs:
        assert proc.wait(timeout=100) == 0
    lines = log.read_text().splitlines()
    assert len(lines) == 8 * 15 * 2
    for start, end in zip(lines[::2], lines[1::2], strict=True):
        assert start.startswith("start ") and end == "end " + start.split()[1], (start, end)
    assert not slot.exists()
