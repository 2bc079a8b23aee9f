"""``cgseq run`` exits with the job's code, or with the code that says why cgseq ended it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cli_support import cgseq_lines, job, parse_result, says_timeout

pytestmark = pytest.mark.timeout(60)


def test_success_is_0_and_silent(cgseq):
    done = cgseq("run", "--", "true")
    assert done.returncode == 0, done.stderr
    # No wait, nothing went wrong: cgseq itself says nothing (its log goes to the state dir).
    assert done.stderr == ""
    assert done.stdout == ""


def test_job_exit_code_passes_through(cgseq):
    done = cgseq("run", "--", "sh", "-c", "echo to-out; echo to-err >&2; exit 3")
    assert done.returncode == 3
    assert done.stdout == "to-out\n"
    assert "to-err" in done.stderr
    # The job failed on its own: cgseq did not end it, so no "cgseq: killed ..." reason line.
    assert cgseq_lines(done.stderr) == []


def test_timeout_is_124_with_a_reason_line(cgseq):
    began = time.monotonic()
    done = cgseq("run", "--timeout", "0.5s", "--json", "--", "sleep", "30")
    elapsed = time.monotonic() - began
    assert done.returncode == 124, done.stderr
    # sleep dies on the SIGTERM: no need to wait for the (default 5 s) kill grace.
    assert elapsed < 4.5, f"took {elapsed:.1f}s"
    lines = cgseq_lines(done.stderr)
    assert len(lines) == 1 and says_timeout(lines[0]) and "sleep" in lines[0], lines
    result = parse_result(done.stdout)
    assert result["reason"] == "timeout"
    assert result["exit_code"] == 124


def test_unknown_command_is_127(cgseq, work: Path):
    done = cgseq("run", "--json", "--", "cgseq-no-such-command-7f3a", "arg")
    assert done.returncode == 127
    assert "cgseq-no-such-command-7f3a" in done.stderr
    assert parse_result(done.stdout)["reason"] == "not-found"


def test_not_executable_is_126(cgseq, work: Path):
    script = work / "script.sh"
    script.write_text("#!/bin/sh\necho should-not-run\n")
    script.chmod(0o644)  # no x bit: execve fails with EACCES, even for root
    done = cgseq("run", "--json", "--", str(script))
    assert done.returncode == 126
    assert "should-not-run" not in done.stdout
    assert str(script) in done.stderr or "script.sh" in done.stderr
    assert parse_result(done.stdout)["reason"] == "not-executable"


def test_job_killing_itself_with_sigterm_is_143(cgseq):
    done = cgseq("run", "--json", "--", "sh", "-c", "kill -TERM $$; sleep 5")
    assert done.returncode == 128 + 15
    result = parse_result(done.stdout)
    assert result["exit_code"] == 143
    assert result["reason"] == "signaled"


@pytest.mark.parametrize("value", ["2X", "lots", "-5M", "1.5GiBs"])
def test_bad_memory_is_2_with_the_accepted_forms(cgseq, work: Path, value: str):
    marker = work / "ran"
    done = cgseq("run", f"--memory={value}", "--", "touch", str(marker))
    assert done.returncode == 2
    assert not marker.exists(), "the job ran despite a bad --memory"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert value in line
    assert "512M" in line and "2G" in line, f"accepted forms not named: {line}"


@pytest.mark.parametrize("value", ["soon", "10x", "-1s"])
def test_bad_timeout_is_2_with_the_accepted_forms(cgseq, work: Path, value: str):
    marker = work / "ran"
    done = cgseq("run", f"--timeout={value}", "--", "touch", str(marker))
    assert done.returncode == 2
    assert not marker.exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert value in lines[0] and "90s" in lines[0], lines[0]


def test_unknown_backend_is_2(cgseq, work: Path):
    marker = work / "ran"
    done = cgseq("run", "--backend", "bogus", "--", "touch", str(marker))
    assert done.returncode == 2
    assert not marker.exists()
    assert "bogus" in done.stderr
    assert "poll" in done.stderr  # names what would have been accepted


def test_bad_pids_and_retry_are_2(cgseq, work: Path):
    marker = work / "ran"
    for option, value in (("--pids", "many"), ("--retry", "-1"), ("--leftovers", "shred")):
        done = cgseq("run", f"{option}={value}", "--", "touch", str(marker))
        assert done.returncode == 2, (option, value, done.stderr)
        assert value in done.stderr
    assert not marker.exists()


def test_missing_command_is_2(cgseq):
    done = cgseq("run")
    assert done.returncode == 2
    assert done.stderr.strip()


def test_memory_hog_under_poll_is_137(cgseq, work: Path):
    progress = work / "hog"
    done = cgseq(
        "run", "--backend", "poll", "--memory", "200M", "--", *job("hog", progress, "--max", "600")
    )
    assert done.returncode == 137, done.stderr
