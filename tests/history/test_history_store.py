"""The history database: where it is, what a record holds, schema, bounds, and failures.

Real SQLite files in each test's own ``$XDG_STATE_HOME`` (the autouse fixture); the lock
and the concurrent writers are real processes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cgseq import history
from cgseq.history import queries, schema, store
from cgseq.history.store import Retention
from cgseq.history.timeline import Timeline
from cgseq.model import TerminationReason
from tests.conftest import require
from tests.history.history_support import make_result, run_writers

pytestmark = pytest.mark.timeout(120)
MiB = 1 << 20


def database() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "cgseq" / "history.sqlite3"


def rows(query: str = "SELECT count(*) FROM jobs") -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(database())) as db:
        return db.execute(query).fetchall()


# ------------------------------------------------------------------ where, and what a row holds


def test_the_database_is_in_xdg_state_home_made_private() -> None:
    history.record(make_result(["true"]))
    path = database()
    assert path.is_file()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == schema.CURRENT
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental


@pytest.mark.parametrize("xdg", [None, "relative/state"])
def test_without_an_absolute_xdg_state_home_it_is_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if xdg is None:
        monkeypatch.delenv("XDG_STATE_HOME")
    else:
        monkeypatch.setenv("XDG_STATE_HOME", xdg)  # the XDG spec: a relative path is ignored
    history.record(make_result(["true"]))
    made = tmp_path / "home" / ".local" / "state" / "cgseq"
    assert (made / "history.sqlite3").is_file()
    for folder in (made, made.parent, made.parent.parent, made.parent.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_record_reads_back_whole() -> None:
    timeline = Timeline()
    for step in range(500):
        timeline.add(step * 0.01, step * MiB, (4242, "python3", step * MiB // 2))
    result = make_result(
        ["/usr/bin/python3", "hog.py"],
        exit_code=137,
        reason=TerminationReason.MEMORY,
        detail="memory 213M over limit 200M",
        queue_wait=1.5,
        duration=5.0,
        peak_memory=499 * MiB,
        peak_pids=3,
        warnings=["--memory enforced by sampling"],
        leftovers_killed=["sleep (pid 9)"],
        job_id="1234-abc-1",
    )
    psi = {"some": 120_000, "full": 3_000}
    number = history.record(result, timeline=timeline, psi=psi, lock="db", started=1e9)
    with store.opened() as db:
        job = queries.find(db, str(number))
        assert job == queries.find(db, "1234-abc-1")
    assert job is not None
    assert (job.argv, job.command) == (["/usr/bin/python3", "hog.py"], "python3 hog.py")
    assert (job.lock, job.started, job.queue_wait, job.duration) == ("db", 1e9, 1.5, 5.0)
    assert (job.exit_code, job.reason, job.outcome()) == (137, "memory", "memory")
    assert job.detail == "memory 213M over limit 200M"
    assert (job.peak_memory, job.peak_pids, job.memory_limit) == (499 * MiB, 3, 200 * MiB)
    assert job.psi == {"some_usec": 120_000, "full_usec": 3_000}
    assert job.warnings == ["--memory enforced by sampling"]
    assert job.leftovers_killed == ["sleep (pid 9)"]
    assert job.timeline is not None and len(job.timeline["points"]) <= 200
    assert job.timeline["points"][-1] == [4.99, 499 * MiB]
    assert job.timeline["top"] == {"pid": 4242, "command": "python3", "rss": 499 * MiB // 2}


def test_started_defaults_to_now_minus_the_duration() -> None:
    before = time.time()
    history.record(make_result(["true"], duration=100.0))
    ((started, recorded),) = rows("SELECT started, recorded FROM jobs")
    assert isinstance(started, float) and isinstance(recorded, float)
    assert before - 100 <= started <= time.time() - 100 + 1
    assert recorded >= before


def test_the_list_is_per_project_oldest_first_and_can_show_only_failures() -> None:
    for number, (project, code) in enumerate([("/a", 0), ("/b", 1), ("/a", 2), ("/a", 0)]):
        history.record(make_result([f"job{number}"], project=project, exit_code=code))
    with store.opened() as db:
        assert [j.command for j in queries.recent(db, "/a", 10)] == ["job0", "job2", "job3"]
        assert [j.command for j in queries.recent(db, "/a", 2)] == ["job2", "job3"]
        assert [j.command for j in queries.recent(db, None, 10, failed=True)] == ["job1", "job2"]
        assert queries.find(db, "99") is None and queries.find(db, "²") is None


# ------------------------------------------------------------------ schema and migrations


def test_an_older_schema_is_migrated_and_a_newer_one_refused() -> None:
    path = database()
    path.parent.mkdir(mode=0o700)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        schema.migrate(db, target=1)  # what an older cgseq left
        assert schema.version(db) == 1
    history.record(make_result(["true"]))
    assert rows("PRAGMA user_version") == [(schema.CURRENT,)]
    assert rows("SELECT key FROM meta") == [("legacy_import",)]  # migration 2 ran
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {schema.CURRENT + 1}")
    with pytest.raises(history.HistoryError, match="newer than this cgseq knows"):
        history.record(make_result(["true"]))


# ------------------------------------------------------------------ bounded size


def test_retention_keeps_the_newest_rows_and_drops_old_ones() -> None:
    for number in range(30):
        history.record(make_result([f"job{number}"]), retention=Retention(5, None))
    assert rows("SELECT command FROM jobs ORDER BY id") == [(f"job{n}",) for n in range(25, 30)]
    with contextlib.closing(sqlite3.connect(database())) as db, db:
        db.execute("UPDATE jobs SET recorded = recorded - 86400 * 8 WHERE command <> 'job29'")
    history.record(make_result(["new"]), retention=Retention(None, 7 * 86400))
    assert rows("SELECT command FROM jobs ORDER BY id") == [("job29",), ("new",)]


def test_the_settings_bound_the_rows_every_32_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CGSEQ_HISTORY_MAX_ROWS", "3")
    for number in range(2 * store.PRUNE_EVERY + 6):
        history.record(make_result([f"job{number}"]))
    # pruned to 3 at the 64th record, then 6 more
    assert rows() == [(9,)]


def test_the_file_does_not_grow_once_rows_are_pruned() -> None:
    def fill(count: int) -> int:
        for _ in range(count):
            timeline = Timeline()
            for step in range(400):
                timeline.add(step * 0.1, step * MiB, (1, "x" * 50, MiB))
            history.record(make_result(["job"]), timeline=timeline, retention=Retention(20, None))
        return database().stat().st_size

    first = fill(40)
    assert fill(200) <= first * 1.2, "pruned pages were not reused"


# ------------------------------------------------------------------ a database that cannot be used


def test_a_corrupt_database_is_one_history_error() -> None:
    path = database()
    path.parent.mkdir(mode=0o700)
    path.write_bytes(b"this is not a database, just garbage " * 200)
    path.chmod(0o600)
    with pytest.raises(history.HistoryError) as raised:
        history.record(make_result(["true"]))
    message = str(raised.value)
    assert "\n" not in message and "corrupt" in message and str(path) in message
    assert f"mv {path} {path}.broken" in message


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding an EXCLUSIVE transaction on ``path`` until the block ends."""
    code = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('BEGIN EXCLUSIVE')\n"
        'db.execute(\'INSERT INTO meta VALUES ("held", "yes")\')\n'
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield holder
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)


def test_a_database_locked_past_the_busy_timeout_is_one_history_error() -> None:
    history.record(make_result(["first"]))
    with exclusive_lock(database()):
        began = time.monotonic()
        with pytest.raises(history.HistoryError, match="is locked by another process") as raised:
            history.record(make_result(["second"]), busy_timeout=0.2)
        assert time.monotonic() - began >= 0.2, "gave up before the busy timeout"
        assert "\n" not in str(raised.value)
    history.record(make_result(["third"]))  # the lock is gone: recording works again
    assert rows("SELECT command FROM jobs ORDER BY id") == [("first",), ("third",)]


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """``folder`` that not even its owner can write to: chmod 500, or (root) immutable."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        yield
        folder.chmod(0o700)
        return
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    require("chattr", made.returncode == 0, f"an immutable directory for root: {made.stderr}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_an_unwritable_directory_is_one_history_error(existing: bool) -> None:
    folder = database().parent
    if existing:
        history.record(make_result(["first"]))
    else:
        folder.mkdir(mode=0o700)
    with unwritable(folder), pytest.raises(history.HistoryError) as raised:
        history.record(make_result(["true"]))
    assert "\n" not in str(raised.value) and str(folder) in str(raised.value)


def test_a_symlinked_or_foreign_directory_or_file_is_refused(tmp_path: Path) -> None:
    folder = database().parent
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    folder.symlink_to(elsewhere)
    with pytest.raises(history.HistoryError, match="not a plain directory"):
        history.record(make_result(["true"]))
    folder.unlink()
    folder.mkdir(mode=0o700)
    database().symlink_to(elsewhere / "db")
    with pytest.raises(history.HistoryError, match="not a regular file"):
        history.record(make_result(["true"]))
    assert not (elsewhere / "db").exists(), "SQLite wrote through the link"
    database().unlink()
    folder.chmod(0o770)
    with pytest.raises(history.HistoryError, match="writable by others"):
        history.record(make_result(["true"]))


def test_a_directory_of_another_user_is_refused() -> None:
    require("root", os.geteuid() == 0, "to make a directory owned by someone else")
    folder = database().parent
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(history.HistoryError, match="owned by uid 65534"):
        history.record(make_result(["true"]))


# ------------------------------------------------------------------ many writers at once


@pytest.mark.timeout(300)
def test_50_concurrent_writers_on_a_new_database_lose_nothing(tmp_path: Path) -> None:
    job_ids = [f"writer-{n}" for n in range(50)]
    ended = run_writers(job_ids, tmp_path)  # on a database none of them has created yet
    assert [code for code, _ in ended] == [0] * 50, ended
    assert sorted(int(output) for _, output in ended) == list(range(1, 51))
    assert sorted(job for (job,) in rows("SELECT job_id FROM jobs")) == sorted(job_ids)
