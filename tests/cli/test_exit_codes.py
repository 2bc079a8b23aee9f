"""``cgseq run`` exits with the job's code, or with the code that says why cgseq ended it."""

from __future__ import annotations

import re
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
    done = cgseq("run", "--timeout", "0.5s", "--kill-grace", "60s", "--json", "--", "sleep", "30")
    elapsed = time.monotonic() - began
    assert done.returncode == 124, done.stderr
    # sleep dies on the SIGTERM: cgseq must not wait out the 60 s kill grace.
    assert elapsed < 30, f"took {elapsed:.1f}s"
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


@pytest.mark.parametrize("args", [(), ("--",), ("--memory", "1G")], ids=["bare", "dashes", "opts"])
def test_missing_command_is_2_with_one_line_naming_the_form(cgseq, args: tuple[str, ...]):
    done = cgseq("run", *args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "cgseq: no command given: cgseq run [options] -- COMMAND [ARGS...]"
    ], done.stderr


def reason_lines(stderr: str) -> list[str]:
    """cgseq's "killed <the job's command>: <why>" lines (not those naming leftovers)."""
    return [line for line in cgseq_lines(stderr) if re.match(r"cgseq: killed \S+ \S*cli_job", line)]


def test_memory_hog_under_poll_is_137_with_the_reason(cgseq, work: Path):
    progress = work / "hog"
    hog = job("hog", progress, "--max", "600")
    done = cgseq("run", "--backend", "poll", "--memory", "200M", "--json", "--", *hog)
    assert done.returncode == 137, done.stderr
    assert "done" not in progress.read_text().split(), "the hog got all its 600M"
    killed = reason_lines(done.stderr)
    assert len(killed) == 1, done.stderr
    assert re.match(
        r"cgseq: killed \S+ \S*cli_job\.py hog .*: memory [\d.]+[KMG] over limit 200M\b", killed[0]
    ), killed
    result = parse_result(done.stdout)
    assert (result["reason"], result["exit_code"]) == ("memory", 137), result


def test_fork_loop_under_poll_is_137_with_the_reason(cgseq, work: Path, reaper):
    pids = work / "pids"
    done = cgseq("run", "--backend", "poll", "--pids", "20", "--json", "--", *job("forkloop", pids))
    reaper.track_file(pids)
    assert done.returncode == 137, done.stderr
    killed = reason_lines(done.stderr)
    assert len(killed) == 1, done.stderr
    assert re.match(
        r"cgseq: killed \S+ \S*cli_job\.py forkloop .*: \d+ \w+ over limit 20\b", killed[0]
    ), killed
    result = parse_result(done.stdout)
    assert (result["reason"], result["exit_code"]) == ("pids", 137), result


# 137 is also what a job gets by exiting 137 or by SIGKILLing itself. cgseq did not end it,
# so it must not be told apart from any other exit: no "killed" line, no memory or pids reason.
SELF_137 = {"exit-137": ("exit 137", "exited"), "kill-9-self": ("kill -9 $$", "signaled")}


@pytest.mark.parametrize("backend", ["auto", "poll"])
@pytest.mark.parametrize("case", SELF_137)
def test_a_job_that_ends_with_137_by_itself_is_reported_as_its_own_end(
    cgseq, backend: str, case: str
):
    script, reason = SELF_137[case]
    limits = ("--memory", "1G", "--pids", "100")  # limits armed, none of them reached
    done = cgseq("run", "--backend", backend, *limits, "--json", "--", "sh", "-c", script)
    assert done.returncode == 137, done.stderr
    assert cgseq_lines(done.stderr) == [], f"cgseq spoke of a job it did not end:\n{done.stderr}"
    result = parse_result(done.stdout)
    assert (result["reason"], result["exit_code"]) == (reason, 137), result
