"""Supervision: signals reach the whole job, output is live, the terminal and stdin pass through."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cli_support import cgseq_env, job, pid_running, wait_until

TREE = ("--children", "2", "--depth", "1", "--sleep", "30")


def start_tree(start, work: Path, *extra: str, options: tuple[str, ...] = ()):
    pids_file, ready, trap = work / "pids", work / "ready", work / "trap"
    argv = job("tree", pids_file, ready, "--trap", trap, *TREE, *extra)
    run = start("run", *options, "--", *argv)
    wait_until(lambda: ready.exists() or run.proc.poll() is not None, 15, "the job tree")
    assert ready.exists(), run.stderr
    return run, pids_file, trap


def signalled(trap: Path, name: str) -> set[int]:
    if not trap.exists():
        return set()
    lines = [line.split() for line in trap.read_text().splitlines()]
    return {int(pid) for pid, got, _ in lines if got == name}


SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_signal_to_cgseq_reaches_the_whole_job(start, work: Path, reaper, sig: signal.Signals):
    report = work / "report.json"
    # The main process outlasts the others: this test is about delivery, not about grace.
    options = ("--report", str(report))
    run, pids_file, trap = start_tree(start, work, "--main-cleanup", "0.5", options=options)
    pids = reaper.track_file(pids_file)
    assert len(pids) == 3
    os.kill(run.pid, sig)
    code = run.wait(15)
    assert signalled(trap, sig.name) == set(pids), f"not every process got {sig.name}: {trap}"
    assert code == 128 + sig, run.stderr
    assert [p for p in pids if pid_running(p)] == []
    assert json.loads(report.read_text())["reason"] == "interrupted"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_signal_leaves_the_rest_of_the_job_its_grace(start, work: Path, reaper, sig):
    """The main process exits at once; its children need 0.5 s to clean up, within --kill-grace."""
    options = ("--kill-grace", "60s")
    run, pids_file, trap = start_tree(start, work, "--cleanup", "0.5", options=options)
    pids = reaper.track_file(pids_file)
    began = time.monotonic()
    os.kill(run.pid, sig)
    code = run.wait(15)
    assert signalled(trap, "cleaned") == set(pids), (
        "processes of the job were killed before the grace was over:\n" + trap.read_text()
    )
    assert time.monotonic() - began < 30  # done when the job was, not at the end of the grace
    assert code == 128 + sig
    assert [p for p in pids if pid_running(p)] == []


@pytest.mark.timeout(60)
def test_timeout_leaves_the_rest_of_the_job_its_grace(cgseq, work: Path, reaper):
    pids_file, ready, trap = work / "pids", work / "ready", work / "trap"
    argv = job("tree", pids_file, ready, "--trap", trap, *TREE, "--cleanup", "0.5")
    done = cgseq("run", "--timeout", "1s", "--kill-grace", "5s", "--", *argv)
    pids = reaper.track_file(pids_file)
    assert done.returncode == 124, done.stderr
    assert signalled(trap, "cleaned") == set(pids), (
        "processes of the job were killed before the grace was over:\n" + trap.read_text()
    )


@pytest.mark.timeout(60)
def test_second_sigint_escalates_to_sigkill(start, work: Path, reaper):
    run, pids_file, trap = start_tree(start, work, "--ignore", "INT")
    pids = reaper.track_file(pids_file)
    os.kill(run.pid, signal.SIGINT)
    wait_until(lambda: signalled(trap, "SIGINT") == set(pids), 10, "the first SIGINT to arrive")
    # cgseq forwarded the first ^C (every process logged it) and the job ignored it: nothing
    # may have been killed for it. (Any later escalation would be a kill-grace, not ours.)
    assert run.proc.poll() is None, "cgseq gave up on a job that ignores one SIGINT"
    assert all(pid_running(p) for p in pids)
    os.kill(run.pid, signal.SIGINT)
    code = run.wait(10)  # the job ignores SIGINT: only the escalation to SIGKILL ends it
    assert [p for p in pids if pid_running(p)] == []
    assert code in (130, 137), run.stderr


@pytest.mark.timeout(30)
def test_output_arrives_while_the_job_runs(start):
    run = start("run", "--", *job("ticker", "--gap", "1"))
    assert run.wait(20) == 0, run.stderr
    out = {line.split()[0]: at for at, line in run.out}
    err = {line.split()[0]: at for at, line in run.err if not line.startswith("cgseq:")}
    assert set(out) == {"first", "second"}, run.stdout
    assert "err-first" in err, run.stderr
    # The first lines arrive about a second before the second one: no buffering in between.
    assert out["second"] - out["first"] >= 0.7, out
    assert out["second"] - err["err-first"] >= 0.7, (out, err)


@pytest.mark.timeout(30)
def test_the_job_gets_the_terminal(project: Path, work: Path):
    """stdin/stdout/stderr are cgseq's own terminal, not pipes: colours and progress bars work."""
    mark = work / "mark"
    primary, secondary = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cgseq", "run", "--", *job("mark", mark)],
        cwd=project,
        env=cgseq_env(),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        start_new_session=True,
    )
    os.close(secondary)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(primary, chunks), daemon=True)
    reader.start()
    try:
        assert proc.wait(20) == 0, b"".join(chunks)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(2)
        os.close(primary)
    assert json.loads(mark.read_text())["isatty"] == [True, True, True]


def _read_all(fd: int, sink: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the other side is closed
            return
        if not data:
            return
        sink.append(data)


@pytest.mark.timeout(30)
def test_stdin_passes_through(cgseq):
    done = cgseq("run", "--", "cat", input="hello from stdin\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello from stdin\n"


@pytest.mark.timeout(30)
def test_job_environment_names_its_job(cgseq, work: Path):
    mark = work / "mark"
    assert cgseq("run", "--", *job("mark", mark)).returncode == 0
    env = json.loads(mark.read_text())["env"]
    assert env.get("CGSEQ_JOB_ID"), env
    assert env.get("CGSEQ_TURN"), env
