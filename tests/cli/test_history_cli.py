"""``cgseq history`` through the real CLI: rows after real runs, the listing, ``show``, ``stats``.

The rows of real jobs come from ``cgseq run`` itself (ok, failed, timed out, killed for
memory) on the poll backend and, as root on a v1 host, cgroup1; the figures of ``show`` and
``stats`` come from jobs recorded with known values.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_support import cgseq_env, job, start_cgseq
from private_cgroups import require_backend

from cgseq import history
from cgseq.history.timeline import Timeline
from cgseq.model import TerminationReason
from tests.history.history_support import make_result

pytestmark = pytest.mark.timeout(120)
MiB = 1 << 20
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def listed(cgseq: Any, *args: str, cwd: Path | None = None) -> dict[str, Any]:
    done = cgseq("history", "--json", *args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    assert data["version"] == 1
    return data


@pytest.mark.parametrize(
    "backend",
    [
        "poll",
        pytest.param("cgroup1", marks=pytest.mark.kernel),
        pytest.param("cgroup2", marks=[pytest.mark.kernel, pytest.mark.vm]),
        pytest.param("systemd", marks=[pytest.mark.kernel, pytest.mark.vm]),
    ],
)
def test_rows_after_ok_failed_timed_out_and_memory_killed_jobs(
    cgseq: Any, work: Path, reaper: Any, backend: str
) -> None:
    require_backend(backend)
    runs = [
        (0, ["true"]),
        (3, ["sh", "-c", "exit 3"]),
        (124, ["--timeout", "500ms", "--kill-grace", "1s", "--", *SLEEPER]),
        (
            137,
            ["--memory", "200M", "--", *job("hog", work / "hog", "--step", "20", "--max", "600")],
        ),
    ]
    for code, args in runs:
        argv = args if "--" in args else ["--", *args]
        done = cgseq("run", "--backend", backend, *argv, timeout=90)
        assert done.returncode == code, done.stderr
        assert "not recorded" not in done.stderr, done.stderr
    jobs = listed(cgseq)["jobs"]
    assert [j["outcome"] for j in jobs] == ["ok", "exit 3", "timeout", "memory"]
    assert [j["exit_code"] for j in jobs] == [0, 3, 124, 137]
    assert {j["backend"] for j in jobs} == {backend}
    assert [j["id"] for j in jobs] == [1, 2, 3, 4]
    killed = jobs[3]
    assert killed["limits"]["memory"] == 200 * MiB and killed["peak_memory"] >= 190 * MiB
    assert "memory" in killed["detail"] and killed["job_id"]
    assert all(j["started"] and j["duration"] > 0 for j in jobs)
    shown = cgseq("history", "show", str(killed["id"]))
    assert shown.returncode == 0, shown.stderr
    assert "outcome    memory: " in shown.stdout and "(exit 137)" in shown.stdout


def test_a_corrupt_database_does_not_break_a_run_it_warns_once(cgseq: Any) -> None:
    database = Path(os.environ["XDG_STATE_HOME"]) / "cgseq" / "history.sqlite3"
    database.parent.mkdir(mode=0o700)
    database.write_bytes(b"garbage, not SQLite " * 100)
    done = cgseq("run", "--backend", "poll", "--", "sh", "-c", "echo ran; exit 5")
    assert done.returncode == 5 and done.stdout == "ran\n"
    warnings = [line for line in done.stderr.splitlines() if "history" in line]
    assert len(warnings) == 1 and "corrupt" in warnings[0], done.stderr
    assert warnings[0].startswith("cgseq: warning: job not recorded in the history: ")
    failed = cgseq("history")
    assert failed.returncode == 125 and failed.stderr.count("\n") == 1, failed.stderr


@pytest.mark.timeout(300)
def test_50_concurrent_runs_are_all_recorded(cgseq: Any, project: Path) -> None:
    runs = [
        start_cgseq(
            "run",
            "--backend",
            "poll",
            "--lock",
            f"l{n}",
            "--",
            "true",
            cwd=project,
            env=cgseq_env(),
        )
        for n in range(50)
    ]
    codes = [run.wait(240) for run in runs]
    assert codes == [0] * 50, [run.stderr for run in runs if run.proc.returncode]
    assert not [run.stderr for run in runs if "not recorded" in run.stderr]
    jobs = listed(
        lambda *a, cwd=None: __import__("tests.support").support.run_cgseq(*a, cwd=project),
        "-n",
        "100",
    )["jobs"]
    assert len(jobs) == 50 and len({j["job_id"] for j in jobs}) == 50


def record_known(project: Path) -> dict[str, int]:
    """Jobs with known figures, recorded as the run would, in ``project``."""
    timeline = Timeline()
    for step in range(60):
        timeline.add(step * 0.1, step * 4 * MiB, (812, "python3", step * 3 * MiB))
    hog = make_result(
        ["python3", "hog.py"],
        project=str(project),
        exit_code=137,
        reason=TerminationReason.MEMORY,
        detail="memory 236M over limit 200M (largest: python3 pid 812, 177M)",
        peak_memory=236 * MiB,
        duration=6.0,
        job_id="hog-1",
    )
    ids = {"hog": history.record(hog, timeline=timeline, psi={"some": 1_500_000, "full": 20_000})}
    for n, peak in enumerate([100, 120, 140, 160, 180]):
        result = make_result(
            ["make", "test"], project=str(project), peak_memory=peak * MiB, duration=10.0 + n
        )
        ids[f"make{n}"] = history.record(result)
    other = make_result(["make", "test"], project="/elsewhere", peak_memory=MiB)
    ids["other"] = history.record(other)
    return ids


def test_show_draws_the_timeline_at_80_columns_with_the_kill_point(
    cgseq: Any, project: Path
) -> None:
    ids = record_known(project)
    done = cgseq("history", "show", str(ids["hog"]), env=cgseq_env({"COLUMNS": "80"}))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "  largest    python3 pid 812 177M" in lines
    assert "  pressure   some 1.5s, full 20ms stalled on memory" in lines
    assert "memory: peak 236M at 5.9s, limit 200M" in lines
    assert any(line.endswith(" limit") and "200M" in line for line in lines), done.stdout
    assert "█" in done.stdout
    caret = next(line for line in lines if line.endswith("killed: memory ^") or "^ killed" in line)
    axis = next(line for line in lines if "└" in line)
    assert caret.index("^") == axis.index("┘") - 1, "the kill mark is not under the last column"


def test_show_falls_back_to_ascii_when_the_output_is_not_utf8(cgseq: Any, project: Path) -> None:
    ids = record_known(project)
    env = cgseq_env({"COLUMNS": "80", "PYTHONIOENCODING": "ascii"})
    done = cgseq("history", "show", str(ids["hog"]), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.isascii() and "#" in done.stdout and "killed: memory" in done.stdout


def test_the_list_is_this_projects_unless_asked(cgseq: Any, project: Path) -> None:
    ids = record_known(project)
    here = listed(cgseq)
    assert here["project"] == str(project)
    assert [j["id"] for j in here["jobs"]] == [ids["hog"], *(ids[f"make{n}"] for n in range(5))]
    assert "timeline" not in here["jobs"][0]
    assert [j["id"] for j in listed(cgseq, "--all", "-n", "2")["jobs"]] == [
        ids["make4"],
        ids["other"],
    ]
    assert [j["project"] for j in listed(cgseq, "--project", "/elsewhere")["jobs"]] == [
        "/elsewhere"
    ]
    assert [j["outcome"] for j in listed(cgseq, "--failed")["jobs"]] == ["memory"]
    text = cgseq("history", "-n", "3", cwd=project)
    assert text.returncode == 0 and len(text.stdout.splitlines()) == 4, text.stdout
    assert "make test" in text.stdout.splitlines()[-1]


def test_show_json_has_the_timeline(cgseq: Any, project: Path) -> None:
    ids = record_known(project)
    done = cgseq("history", "show", "hog-1", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["version"] == 1 and data["job"]["id"] == ids["hog"]
    timeline = data["job"]["timeline"]
    assert timeline["points"][-1] == [5.9, 236 * MiB] and timeline["top"]["pid"] == 812


def test_stats_figures_from_known_runs(cgseq: Any, project: Path) -> None:
    record_known(project)
    done = cgseq("history", "stats", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["version"] == 1
    figures = {c["command"]: c for c in data["commands"]}
    assert set(figures) == {"python3 hog.py", "make test"}, "another project's runs counted"
    make = figures["make test"]
    assert (make["runs"], make["failures"]) == (5, 0)
    assert (make["median_duration"], make["max_duration"]) == (12.0, 14.0)
    assert (make["median_peak"], make["max_peak"]) == (140 * MiB, 180 * MiB)
    assert make["trend"] == {"direction": "growing", "slope": 20 * MiB, "runs": 5}
    assert figures["python3 hog.py"]["failures"] == 1
    text = cgseq("history", "stats")
    assert text.returncode == 0 and "growing +20M/run" in text.stdout, text.stdout


def test_nothing_recorded_yet_is_said_not_failed(cgseq: Any, project: Path) -> None:
    done = cgseq("history")
    assert done.returncode == 0 and done.stdout == f"no jobs in the history for {project}\n"
    assert listed(cgseq)["jobs"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show",), "cgseq history show takes one ID"),
        (("bogus",), "unknown history action 'bogus'"),
        (("12",), "to show a job: cgseq history show 12"),
        (("--all", "--project", "/x"), "--all and --project exclude each other"),
        (("show", "999"), "no job '999' in the history"),
        (("stats", "--failed"), "--failed does not apply to 'cgseq history stats'"),
        (("show", "1", "-n", "3"), "-n does not apply to 'cgseq history show'"),
        (("-n", "0"), "invalid -n '0'"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(cgseq: Any, args: tuple[str, ...], message: str) -> None:
    done = cgseq("history", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
