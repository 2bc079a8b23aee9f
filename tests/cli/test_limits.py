"""Limits on the poll backend, timeouts with kill grace, leftovers, retries."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from cli_support import (
    cgseq_env,
    cgseq_lines,
    job,
    parse_result,
    pid_running,
    read_pids,
    says_timeout,
)

MiB = 1 << 20


@pytest.mark.timeout(60)
def test_memory_hog_is_killed_with_reason_memory(cgseq, work: Path, reaper):
    progress = work / "hog"
    done = cgseq(
        "run",
        "--backend",
        "poll",
        "--memory",
        "200M",
        "--json",
        "--",
        *job("hog", progress, "--step", "20", "--interval", "0.05", "--max", "600"),
    )
    reached = progress.read_text().split()
    assert done.returncode == 137, done.stderr
    assert "done" not in reached, "the hog allocated its whole 600M: never stopped"
    lines = cgseq_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert "memory" in lines[0] and "200M" in lines[0], lines[0]
    result = parse_result(done.stdout)
    assert result["reason"] == "memory"
    assert result["exit_code"] == 137
    assert result["backend"] == "poll"
    peak = result["peak_memory"]
    assert isinstance(peak, int) and peak >= 200 * MiB, peak
    # The poll backend may overshoot by what the hog allocates between samples, not by 2x.
    assert peak < 400 * MiB, peak


@pytest.mark.timeout(60)
def test_fork_loop_is_stopped_at_pids_limit(cgseq, work: Path, reaper):
    pids_file = work / "pids"
    done = cgseq(
        "run",
        "--backend",
        "poll",
        "--pids",
        "20",
        "--json",
        "--",
        *job("forkloop", pids_file, "--max", "100", "--interval", "0.02"),
    )
    reaper.track_file(pids_file)
    assert done.returncode == 137, done.stderr
    recorded = pids_file.read_text().split()
    assert "done" not in recorded, "the fork loop reached 100 processes: never stopped"
    lines = cgseq_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert re.search(r"pids|process", lines[0]) and "20" in lines[0], lines[0]
    result = parse_result(done.stdout)
    assert result["reason"] == "pids"
    assert isinstance(result["peak_pids"], int) and result["peak_pids"] > 20
    alive = [p for p in read_pids(pids_file) if pid_running(p)]
    assert alive == [], f"processes of the fork loop survived: {alive}"


@pytest.mark.timeout(60)
def test_timeout_kills_a_sigterm_ignoring_tree_after_the_grace(cgseq, work: Path, reaper):
    pids_file, ready, trap = work / "pids", work / "ready", work / "trap"
    began = time.monotonic()
    done = cgseq(
        "run",
        "--timeout",
        "1s",
        "--kill-grace",
        "1s",
        "--json",
        "--",
        *job(
            "tree",
            pids_file,
            ready,
            "--children",
            "1",
            "--depth",
            "1",
            "--trap",
            trap,
            "--ignore",
            "TERM",
        ),
    )
    elapsed = time.monotonic() - began
    pids = reaper.track_file(pids_file)
    assert done.returncode == 124, done.stderr
    assert len(pids) == 2
    # SIGTERM came first, to the whole tree (both processes recorded it) ...
    got_term = {int(line.split()[0]) for line in trap.read_text().splitlines() if "SIGTERM" in line}
    assert got_term == set(pids), trap.read_text()
    # ... and, being ignored, SIGKILL followed after the grace.
    assert elapsed >= 1.8, f"ended after {elapsed:.2f}s: no grace between SIGTERM and SIGKILL"
    assert elapsed < 15
    assert [p for p in pids if pid_running(p)] == []
    assert parse_result(done.stdout)["reason"] == "timeout"
    assert any(says_timeout(line) for line in cgseq_lines(done.stderr)), done.stderr


@pytest.mark.timeout(60)
def test_double_forked_daemon_is_killed_at_job_end(cgseq, work: Path, reaper):
    pidfile = work / "daemon.pid"
    done = cgseq("run", "--json", "--", *job("daemon", pidfile, "--sleep", "30"))
    daemon = int(pidfile.read_text())
    reaper.track(daemon)
    assert done.returncode == 0, done.stderr
    assert not pid_running(daemon), "the double-forked daemon outlived its job"
    lines = cgseq_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert str(daemon) in lines[0] or "sleep" in lines[0], lines[0]
    killed = parse_result(done.stdout)["leftovers_killed"]
    assert killed and any(str(daemon) in k or "sleep" in k for k in killed), killed


@pytest.mark.timeout(60)
def test_leftovers_keep_leaves_the_daemon(cgseq, work: Path, reaper):
    pidfile = work / "daemon.pid"
    began = time.monotonic()
    done = cgseq("run", "--leftovers", "keep", "--", *job("daemon", pidfile, "--sleep", "30"))
    elapsed = time.monotonic() - began
    daemon = int(pidfile.read_text())
    reaper.track(daemon)  # ours to kill at teardown
    assert done.returncode == 0, done.stderr
    assert pid_running(daemon), "--leftovers keep killed the daemon"
    # the regression this guards took 8 s (2 s of rmdir retries in each of 4 hierarchies)
    assert elapsed < 7, f"cgseq took {elapsed:.1f}s to leave behind a daemon it was told to keep"
    assert any("kept" in line and str(daemon) in line for line in cgseq_lines(done.stderr))


@pytest.mark.timeout(60)
def test_a_kept_daemon_survives_the_next_run(cgseq, work: Path, reaper):
    """Keeping means keeping: the next job's clean-up must not take it for a dead job's leftover."""
    pidfile = work / "daemon.pid"
    done = cgseq("run", "--leftovers", "keep", "--", *job("daemon", pidfile, "--sleep", "30"))
    daemon = int(pidfile.read_text())
    reaper.track(daemon)
    assert done.returncode == 0, done.stderr
    after = cgseq("run", "--", "true")
    assert after.returncode == 0, after.stderr
    assert pid_running(daemon), f"the next run killed the kept daemon:\n{after.stderr}"


@pytest.mark.timeout(60)
def test_a_kept_daemon_survives_a_run_with_another_state_dir(cgseq, work: Path, tmp_path, reaper):
    """Kernel groups are machine-wide; which jobs were kept must not be a per-state-dir secret."""
    pidfile = work / "daemon.pid"
    done = cgseq("run", "--leftovers", "keep", "--", *job("daemon", pidfile, "--sleep", "30"))
    daemon = int(pidfile.read_text())
    reaper.track(daemon)
    assert done.returncode == 0, done.stderr
    other = tmp_path / "other-state"
    other.mkdir(mode=0o700)
    after = cgseq("run", "--", "true", env=cgseq_env({"CGSEQ_STATE_DIR": str(other)}))
    assert after.returncode == 0, after.stderr
    assert pid_running(daemon), f"another state dir's run killed the kept daemon:\n{after.stderr}"


@pytest.mark.timeout(60)
def test_leftovers_wait_waits_for_the_daemon(cgseq, work: Path, reaper):
    pidfile, finished = work / "daemon.pid", work / "daemon.done"
    began = time.monotonic()
    done = cgseq(
        "run",
        "--leftovers",
        "wait",
        "--",
        *job("daemon", pidfile, "--sleep", "1.5", "--done", finished),
    )
    elapsed = time.monotonic() - began
    reaper.track(int(pidfile.read_text()))
    assert done.returncode == 0, done.stderr
    assert finished.exists(), "cgseq returned before the daemon finished"
    assert elapsed >= 1.4
    assert not pid_running(int(pidfile.read_text()))


@pytest.mark.timeout(60)
def test_retry_counts_attempts_until_success(cgseq, work: Path):
    counter = work / "count"
    done = cgseq("run", "--retry", "2", "--json", "--", *job("flaky", counter, "--succeed-on", "3"))
    assert done.returncode == 0, done.stderr
    assert counter.read_text() == "3"
    result = parse_result(done.stdout)
    assert result["attempts"] == 3
    assert result["exit_code"] == 0


@pytest.mark.timeout(60)
def test_retry_gives_up_with_the_last_exit_code(cgseq, work: Path):
    counter = work / "count"
    done = cgseq("run", "--retry", "1", "--json", "--", *job("flaky", counter, "--code", "5"))
    assert done.returncode == 5
    assert counter.read_text() == "2"
    result = parse_result(done.stdout)
    assert result["attempts"] == 2
    assert result["exit_code"] == 5


@pytest.mark.timeout(60)
def test_retry_does_not_rerun_a_success(cgseq, work: Path):
    counter = work / "count"
    done = cgseq("run", "--retry", "3", "--json", "--", *job("flaky", counter, "--succeed-on", "1"))
    assert done.returncode == 0
    assert counter.read_text() == "1"
    assert parse_result(done.stdout)["attempts"] == 1


@pytest.mark.timeout(60)
def test_retry_reruns_a_timed_out_job(cgseq, work: Path):
    counter = work / "count"
    script = f"echo x >> {counter}; exec sleep 30"
    done = cgseq("run", "--retry", "1", "--timeout", "0.5s", "--json", "--", "sh", "-c", script)
    assert done.returncode == 124
    assert counter.read_text().count("x") == 2
    assert parse_result(done.stdout)["attempts"] == 2
