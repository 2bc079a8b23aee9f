"""Turns: one job at a time per project, strict FIFO, no stale state, nesting without deadlock."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from cli_support import (
    WAITING,
    cgseq_env,
    cgseq_lines,
    job,
    now,
    parse_result,
    pid_running,
    wait_queued,
    wait_until,
)


def starts_and_ends(out: Path) -> tuple[list[tuple[int, int, int]], list[str]]:
    """[(start ns, end ns, n)] sorted by start, and any overlap the jobs detected themselves."""
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    overlaps = []
    for line in out.read_text().splitlines():
        kind, n, stamp = line.split()
        if kind == "overlap":
            overlaps.append(line)
        (starts if kind == "start" else ends)[int(n)] = int(stamp)
    return sorted((starts[n], ends.get(n, -1), n) for n in starts), overlaps


def gated_first(start, out: Path, busy: Path, gate: Path, sleep: str) -> object:
    """Job 0 takes the turn and holds it until the test opens ``gate``: a queue can build."""
    first = start(
        "run", "--", *job("seq", out, 0, "--busy", busy, "--gate", gate, "--sleep", sleep)
    )

    def started() -> bool:
        return out.exists() and "start 0 " in out.read_text()

    wait_until(lambda: started() or first.proc.poll() is not None, 30, "job 0 to hold the turn")
    assert started(), f"job 0 did not start:\n{first.stderr}"
    return first


def waiting(runs: list) -> list:
    return [run for run in runs if WAITING in run.stderr]


def assert_one_at_a_time(spans: list[tuple[int, int, int]], overlaps: list[str]) -> None:
    assert overlaps == [], f"jobs ran at the same time: {overlaps}"
    assert [n for _, end, n in spans if end == -1] == [], "jobs that never ended"
    for (_, end, n), (start, _, m) in itertools.pairwise(spans):
        assert end <= start, f"job {m} started {(end - start) / 1e6:.1f} ms before job {n} ended"


def check_thirty(runs: list, out: Path) -> list[int]:
    """Every job ran once, never two at a time; returns the order they started in."""
    codes = [run.wait(90) for run in runs]
    assert codes == [0] * 30, [(i, r.stderr) for i, r in enumerate(runs) if r.proc.returncode]
    spans, overlaps = starts_and_ends(out)
    assert sorted(n for _, _, n in spans) == list(range(30)), "jobs lost or run twice"
    assert_one_at_a_time(spans, overlaps)
    return [n for _, _, n in spans]


@pytest.mark.timeout(150)
def test_thirty_jobs_run_one_at_a_time_in_arrival_order(start, work: Path):
    """Job 0 holds a gate; each next job is started once the previous one says it waits, so
    the arrival order is defined. Then the gate opens and the 29 waiters drain, in that order."""
    out, busy, gate = work / "seq", work / "busy", work / "gate"
    runs = [gated_first(start, out, busy, gate, "0.02")]
    for n in range(1, 30):
        runs.append(start("run", "--", *job("seq", out, n, "--busy", busy, "--sleep", "0.02")))
        wait_queued(runs[-1], 30)  # fails if it ran at once or exited: no queue, no order
    assert not out.read_text().count("end "), "a job ended while job 0 held the gate"
    gate.touch()
    assert check_thirty(runs, out) == list(range(30)), "start order differs from arrival order"
    assert waiting(runs) == runs[1:], "job 0 waited, or a waiter did not say so"


@pytest.mark.timeout(150)
def test_thirty_jobs_submitted_at_once_never_overlap_and_none_is_lost(start, work: Path):
    """Raw submission, no pacing: 29 jobs race to queue behind a gated job 0, then drain."""
    out, busy, gate = work / "seq", work / "busy", work / "gate"
    runs = [gated_first(start, out, busy, gate, "0.05")]
    runs += [
        start("run", "--", *job("seq", out, n, "--busy", busy, "--sleep", "0.05"))
        for n in range(1, 30)
    ]
    wait_until(lambda: len(waiting(runs)) == 29 or any_exited(runs), 60, "29 jobs to queue")
    assert waiting(runs) == runs[1:], [(i, r.stderr) for i, r in enumerate(runs)]
    gate.touch()
    check_thirty(runs, out)


def any_exited(runs: list) -> bool:
    return any(run.proc.poll() is not None for run in runs)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", ["auto", "poll"])
def test_sigkill_of_the_holder_hands_over_after_killing_its_job_tree(
    start, work: Path, reaper, backend: str
):
    pids_file, ready, seen = work / "pids", work / "ready", work / "seen"
    holder = start(
        "run",
        "--backend",
        backend,
        "--",
        *job("tree", pids_file, ready, "--children", "2", "--depth", "2", "--sleep", "30"),
    )
    wait_until(lambda: ready.exists() or holder.proc.poll() is not None, 15, "the holder's tree")
    assert ready.exists(), holder.stderr
    tree = reaper.track_file(pids_file)
    assert len(tree) == 7 and all(pid_running(p) for p in tree)
    # The next job checks, as its first act, which of the old tree's processes still run.
    waiter = start("run", "--backend", backend, "--", *job("alive", pids_file, seen))
    wait_queued(waiter)
    killed_at = now()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)  # reaped at once, as the holder's shell would
    assert waiter.wait(30) == 0, waiter.stderr
    report = json.loads(seen.read_text())
    assert report["alive"] == [], "the dead holder's job processes still ran when the next started"
    handoff = (report["start"] - killed_at) / 1e9
    assert handoff < 5, f"next job started {handoff:.1f}s after the holder died"
    assert [p for p in tree if pid_running(p)] == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", ["auto", "poll"])
def test_sigkill_of_the_holder_also_cleans_up_its_double_forked_daemon(
    start, work: Path, reaper, backend: str
):
    """The daemon left the job's process group; the dead holder's record must still cover it."""
    pidfile, seen, ready, release = work / "daemon.pid", work / "seen", work / "ready", work / "go"
    script = " && ".join(
        [
            " ".join(map(str, job("daemon", pidfile, "--sleep", "30"))),
            f"touch {ready}",
            " ".join(map(str, job("hold", work / "hold.ready", release))),
        ]
    )
    holder = start("run", "--backend", backend, "--", "sh", "-c", script)
    wait_until(lambda: ready.exists() or holder.proc.poll() is not None, 15, "the daemon")
    daemon = int(pidfile.read_text())
    reaper.track(daemon)
    pidfile2 = work / "daemon.pids"
    pidfile2.write_text(f"{daemon}\n")
    waiter = start("run", "--backend", backend, "--", *job("alive", pidfile2, seen))
    wait_queued(waiter)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    assert waiter.wait(30) == 0, waiter.stderr
    assert json.loads(seen.read_text())["alive"] == [], "the dead holder's daemon survived"
    assert not pid_running(daemon)


@pytest.mark.timeout(60)
def test_sigkill_of_a_holder_nobody_reaped_yet_still_hands_over_cleanly(start, work: Path, reaper):
    """The dead holder stays a zombie until its parent waits: it is dead all the same."""
    pids_file, ready, seen = work / "pids", work / "ready", work / "seen"
    holder = start("run", "--", *job("tree", pids_file, ready, "--children", "1", "--depth", "1"))
    wait_until(lambda: ready.exists() or holder.proc.poll() is not None, 15, "the holder's tree")
    tree = reaper.track_file(pids_file)
    waiter = start("run", "--", *job("alive", pids_file, seen))
    wait_queued(waiter)
    os.kill(holder.pid, signal.SIGKILL)  # and not reaped until the end of the test
    assert waiter.wait(30) == 0, waiter.stderr
    assert json.loads(seen.read_text())["alive"] == [], "the zombie holder's job still ran"
    assert [p for p in tree if pid_running(p)] == []
    holder.wait(10)


@pytest.mark.timeout(60)
def test_sigkill_of_waiters_leaves_the_queue_working(start, hold, work: Path):
    holder = hold("holder")
    marks = [work / f"mark{i}" for i in range(4)]
    waiters = []
    for mark in marks:
        waiters.append(start("run", "--", *job("mark", mark)))
        wait_queued(waiters[-1])
    # Kill the head of the queue and one in the middle.
    for victim in (waiters[0], waiters[2]):
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
    holder.release()
    assert holder.run.wait(15) == 0
    for survivor in (waiters[1], waiters[3]):
        assert survivor.wait(20) == 0, survivor.stderr
    assert not marks[0].exists() and not marks[2].exists(), "a killed waiter's job ran"
    first, second = (json.loads(marks[i].read_text())["start"] for i in (1, 3))
    assert first < second, "the survivors ran out of order"
    handoff = (first - holder.end_ns()) / 1e9
    assert handoff < 5, f"the queue stalled {handoff:.1f}s on a dead waiter"


@pytest.mark.timeout(60)
def test_wait_timeout_gives_up_with_125(cgseq, hold, work: Path):
    holder = hold("holder")
    marker = work / "ran"
    began = time.monotonic()
    done = cgseq("run", "--wait-timeout", "0.5s", "--", "touch", marker)
    elapsed = time.monotonic() - began
    assert done.returncode == 125, done.stderr
    assert not marker.exists(), "the job ran although its wait timed out"
    assert 0.4 <= elapsed < 5, elapsed
    last = cgseq_lines(done.stderr)[-1]
    assert "wait" in last.lower() and "0.5" in last, last
    assert holder.run.proc.poll() is None, "the holder was disturbed"
    holder.release()
    assert holder.run.wait(15) == 0
    # The queue is not stuck on the ticket of the one that gave up.
    after = cgseq("run", "--wait-timeout", "5s", "--", "true")
    assert after.returncode == 0, after.stderr


@pytest.mark.timeout(60)
def test_waiting_line_names_the_running_command(start, work: Path, reaper):
    holder = start("run", "--", "sleep", "30")
    wait_until(lambda: psutil.Process(holder.pid).children(), 15, "the holder's job")
    job_pid = psutil.Process(holder.pid).children()[0].pid
    reaper.track(job_pid)
    report = work / "report.json"
    waiter = start("run", "--report", report, "--", "true")
    wait_queued(waiter)
    assert holder.proc.poll() is None and pid_running(job_pid), "the holder let go by itself"
    ended = time.monotonic()
    os.kill(job_pid, signal.SIGKILL)  # the holder's job ends; the holder hands over
    assert waiter.wait(20) == 0
    lines = [line for line in waiter.stderr.splitlines() if line.startswith(WAITING)]
    assert len(lines) == 1, waiter.stderr
    line = lines[0]
    assert "running: sleep 30" in line, f"running command not named: {line}"
    pids = {int(p) for p in re.findall(r"pid (\d+)", line)}
    assert pids & {holder.pid, job_pid}, f"no pid of the holder in: {line}"
    assert WAITING not in holder.stderr, "the holder did not wait, yet said so"
    assert_queue_wait(json.loads(report.read_text())["queue_wait"], waiter, ended)


@pytest.mark.timeout(60)
def test_waiting_line_tells_the_place_in_the_queue(start, hold, work: Path):
    holder = hold("holder")
    first = start("run", "--", "true")
    wait_queued(first)
    second = start("run", "--", "true")
    line = second.wait_stderr(WAITING)
    holder.release()
    assert first.wait(20) == 0 and second.wait(20) == 0
    first_line = next(x for x in first.stderr.splitlines() if x.startswith(WAITING))
    assert re.search(r"\b1st of 1\b", first_line), first_line
    assert re.search(r"\b2nd of 2\b", line), line


NESTED = [sys.executable, "-m", "cgseq", "run", "--", "echo", "inner"]


@pytest.mark.timeout(60)
def test_nested_run_completes_inline(cgseq):
    done = cgseq("run", "--", *NESTED, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "inner\n"
    assert WAITING not in done.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", ["auto", "poll"])
def test_nested_run_stays_under_the_outer_limits(cgseq, work: Path, reaper, backend: str):
    """The inner job must not escape the outer --memory by being started through cgseq again."""
    progress = work / "hog"
    inner = [sys.executable, "-m", "cgseq", "run", "--", *job("hog", progress, "--max", "600")]
    done = cgseq("run", "--backend", backend, "--memory", "200M", "--", *inner, timeout=20)
    assert "done" not in progress.read_text().split(), "the nested hog got all its 600M"
    assert done.returncode == 137, done.stderr


@pytest.mark.timeout(60)
def test_nested_run_does_not_queue_behind_a_waiter(start, work: Path):
    """The real deadlock: a waiter is queued when the job calls cgseq again."""
    queued, running = work / "queued", work / "running"
    nested = " ".join(NESTED)
    script = f"touch {running}; while [ ! -e {queued} ]; do sleep 0.02; done; exec {nested}"
    outer = start("run", "--", "sh", "-c", script)
    wait_until(running.exists, 15, "the outer job to run")
    waiter = start("run", "--", *job("mark", work / "mark"))
    wait_queued(waiter)
    queued.touch()
    assert outer.wait(20) == 0, outer.stderr
    assert outer.stdout == "inner\n"
    assert WAITING not in outer.stderr
    assert waiter.wait(20) == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("token_from", ["running-holder", "finished-job"])
def test_stale_turn_token_does_not_bypass_the_queue(
    cgseq, start, hold, work: Path, token_from: str
):
    """A shell that copied a job's CGSEQ_* environment is not inside that job: it must queue."""
    if token_from == "finished-job":
        envfile = work / "env"
        assert cgseq("run", "--", *job("mark", envfile)).returncode == 0
        stolen = json.loads(envfile.read_text())["env"]
        holder = hold("holder")
    else:
        holder = hold("holder")
        stolen = holder.info()["env"]
    assert "CGSEQ_TURN" in stolen, f"no CGSEQ_TURN in the job's environment: {stolen}"
    mark = work / "mark"
    intruder = start("run", "--", *job("mark", mark), env=cgseq_env(stolen))
    wait_until(lambda: mark.exists() or WAITING in intruder.stderr, 15, "the intruder")
    assert not mark.exists(), "a copied CGSEQ_TURN let a job run beside the holder"
    holder.release()
    assert intruder.wait(20) == 0, intruder.stderr
    assert json.loads(mark.read_text())["start"] > holder.end_ns()


@pytest.mark.timeout(60)
def test_a_subdirectory_is_the_same_project(start, hold, project: Path, work: Path):
    sub = project / "src" / "deep"
    sub.mkdir(parents=True)
    holder = hold("holder")
    mark = work / "mark"
    waiter = start("run", "--", *job("mark", mark), cwd=sub)
    wait_queued(waiter)
    holder.release()
    assert waiter.wait(20) == 0
    assert json.loads(mark.read_text())["start"] > holder.end_ns()


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=30)
    return path.resolve()


@pytest.mark.timeout(60)
def test_different_projects_do_not_wait_for_each_other(cgseq, hold, tmp_path: Path):
    hold("holder")
    other = git_repo(tmp_path / "other")
    plain = tmp_path / "plain"
    plain.mkdir()
    for cwd in (other, plain):
        done = cgseq("run", "--wait-timeout", "5s", "--", "true", cwd=cwd)
        assert done.returncode == 0, done.stderr
        assert WAITING not in done.stderr


@pytest.mark.timeout(60)
def test_a_worktree_is_its_own_project(cgseq, hold, project: Path, tmp_path: Path):
    git = ["git", "-C", str(project)]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "init"], check=True, timeout=30)
    tree = tmp_path / "wt"
    subprocess.run([*git, "worktree", "add", "-q", str(tree)], check=True, timeout=30)
    hold("holder")
    done = cgseq("run", "--wait-timeout", "5s", "--", "true", cwd=tree)
    assert done.returncode == 0, done.stderr
    assert WAITING not in done.stderr


@pytest.mark.timeout(60)
def test_a_named_lock_is_shared_across_projects(start, hold, tmp_path: Path, work: Path):
    holder = hold("holder", "--lock", "machine-wide")
    other = git_repo(tmp_path / "other")
    mark = work / "mark"
    waiter = start("run", "--lock", "machine-wide", "--", *job("mark", mark), cwd=other)
    wait_queued(waiter)
    holder.release()
    assert waiter.wait(20) == 0
    assert json.loads(mark.read_text())["start"] > holder.end_ns()


@pytest.mark.timeout(60)
def test_status_shows_the_holder_and_the_waiter(cgseq, start, hold, work: Path):
    holder = hold("holder")
    waiter = start("run", "--", *job("mark", work / "waiter-mark"))
    wait_queued(waiter)
    status = cgseq("status")
    assert status.returncode == 0, status.stderr
    text = status.stdout
    assert "holder.ready" in text or "hold" in text, text
    assert "waiter-mark" in text or "mark" in text, text
    data = json.loads(cgseq("status", "--json").stdout)
    dumped = json.dumps(data)
    assert "holder.ready" in dumped and "waiter-mark" in dumped, dumped
    assert dumped.index("holder.ready") < dumped.index("waiter-mark"), "holder not listed first"
    holder.release()
    assert waiter.wait(20) == 0
    idle = cgseq("status", "--json")
    assert idle.returncode == 0
    assert "holder.ready" not in idle.stdout and "waiter-mark" not in idle.stdout


@pytest.mark.timeout(60)
def test_queue_wait_is_reported(start, hold, work: Path):
    holder = hold("holder")
    waiter = start("run", "--json", "--", "true")
    wait_queued(waiter)
    assert holder.run.proc.poll() is None, "the holder let go by itself"
    released = time.monotonic()
    holder.release()
    assert waiter.wait(20) == 0
    assert_queue_wait(parse_result(waiter.stdout)["queue_wait"], waiter, released)


def assert_queue_wait(reported: object, waiter, turn_freed: float) -> None:
    """The wait began before the waiter said so and ended after the turn was freed; it lies
    within the waiter's lifetime. Bounds from events, not from a sleep's length."""
    announced, _ = waiter.line_at(WAITING)
    assert isinstance(reported, int | float), reported
    assert reported >= turn_freed - announced, f"queue_wait {reported}s: less than it waited"
    lifetime = waiter.ended - waiter.started
    assert reported <= lifetime, f"queue_wait {reported}s: more than cgseq ran ({lifetime:.2f}s)"
