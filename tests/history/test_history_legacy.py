"""The one-time import of the old ``history.jsonl`` (the runtime state dir's)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from cgseq import history
from cgseq.history import queries, store
from cgseq.model import TerminationReason
from tests.history.history_support import make_result, run_writers

pytestmark = pytest.mark.timeout(180)


def legacy_file(state_dir: Path, lines: list[str]) -> Path:
    path = state_dir / "history.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def line(argv: list[str], job_id: str, **fields: object) -> str:
    return json.dumps(make_result(argv, job_id=job_id, **fields).to_json())


def commands() -> list[str]:
    with store.opened() as db:
        return [job.command for job in queries.recent(db, None, None)]


def test_each_job_of_the_old_file_is_imported_once_and_odd_lines_skipped(state_dir: Path) -> None:
    good = [
        line(["make"], "j1"),
        line(["pytest"], "j2", exit_code=137, reason=TerminationReason.MEMORY),
        line(["tox"], "j3", peak_memory=None),
    ]
    odd = [
        '{"argv": ["torn"], "cwd"',  # a line cut short
        "[1, 2, 3]",  # not an object
        json.dumps({**json.loads(good[0]), "job_id": "j4", "exit_code": "zero"}),  # wrong type
        json.dumps({**json.loads(good[0]), "job_id": "j5", "reason": "eaten-by-a-grue"}),
        json.dumps({"argv": ["incomplete"]}),
    ]
    path = legacy_file(state_dir, [good[0], *odd, good[1], good[2]])
    assert commands() == ["make", "pytest", "tox"]
    with store.opened() as db:
        jobs = queries.recent(db, None, None)
        note = db.execute("SELECT value FROM meta WHERE key = 'legacy_import'").fetchone()[0]
    assert [job.outcome() for job in jobs] == ["ok", "memory", "ok"]
    assert all(job.started is None for job in jobs), "a jsonl line has no start time"
    assert note == f"3 jobs imported from {path}"
    assert path.exists(), "the old file is left to the code that still writes it"


def test_it_is_imported_only_once(state_dir: Path) -> None:
    path = legacy_file(state_dir, [line(["make"], "j1")])
    history.record(make_result(["later"], job_id="j2"))
    with path.open("a") as more:
        more.write(line(["appended-after-the-import"], "j3") + "\n")
    history.record(make_result(["latest"], job_id="j4"))
    assert commands() == ["make", "later", "latest"]


def test_a_job_recorded_after_its_line_was_imported_takes_its_place(state_dir: Path) -> None:
    legacy_file(state_dir, [line(["old"], "j0"), line(["sh", "-c", "x"], "j1")])
    number = history.record(make_result(["sh", "-c", "x"], job_id="j1", peak_pids=7))
    with store.opened() as db:
        jobs = queries.recent(db, None, None)
    assert [(job.id, job.job_id) for job in jobs] == [(1, "j0"), (2, "j1")]
    assert number == 2 and jobs[1].peak_pids == 7 and jobs[1].started is not None


def test_a_symlinked_old_file_is_not_followed(state_dir: Path, tmp_path: Path) -> None:
    target = legacy_file(tmp_path, [line(["secret"], "j1")])
    (state_dir / "history.jsonl").symlink_to(target)
    history.record(make_result(["true"], job_id="j2"))
    assert commands() == ["true"]


@pytest.mark.timeout(240)
def test_writers_racing_to_create_the_database_import_it_once(
    state_dir: Path, tmp_path: Path
) -> None:
    # no job ids (as the oldest lines have): nothing but the migration keeps them from doubling
    legacy_file(state_dir, [line(["old", str(n)], "") for n in range(200)])
    ended = run_writers([f"new-{n}" for n in range(8)], tmp_path)
    assert [code for code, _ in ended] == [0] * 8, ended
    database = Path(os.environ["XDG_STATE_HOME"]) / "cgseq" / "history.sqlite3"
    with contextlib.closing(sqlite3.connect(database)) as db:
        (old,) = db.execute("SELECT count(*) FROM jobs WHERE command LIKE 'old %'").fetchone()
        (new,) = db.execute("SELECT count(*) FROM jobs WHERE job_id LIKE 'new-%'").fetchone()
    assert (old, new) == (200, 8)
