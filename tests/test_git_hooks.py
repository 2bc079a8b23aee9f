"""Real commits in a real repository: three `git commit`s fired at once, each under cgseq,
each with a pre-commit hook that itself calls `cgseq run` (a nested run, inline)."""

from __future__ import annotations

import itertools
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import WAITING, start_cgseq, start_process, wait_until, with_repo_on_path

HOOK_JOB = (
    "import os, sys, time\n"
    "log = sys.argv[1]\n"
    "def note(what):\n"
    "    with open(log, 'a') as out:\n"
    "        out.write(f'{what} {os.getpid()} {time.monotonic_ns()}\\n')\n"
    "note('start'); time.sleep(0.3); note('end')\n"
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.name", "cgseq test")
    git(repo, "config", "user.email", "test@cgseq.invalid")
    git(repo, "config", "commit.gpgsign", "false")
    hook = repo / ".git" / "hooks" / "pre-commit"
    job = shlex.join([sys.executable, "-c", HOOK_JOB, str(tmp_path / "hooks.log")])
    hook.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m cgseq run -- {job}\n")
    hook.chmod(0o755)
    return repo


def commit(repo: Path, message: str, *, under_cgseq: bool) -> subprocess.Popen[str]:
    command = ["git", "commit", "-q", "--allow-empty", "-m", message]
    if under_cgseq:
        command = [sys.executable, "-m", "cgseq", "run", "--", *command]
    return subprocess.Popen(command, cwd=repo, stderr=subprocess.PIPE, text=True)


def hook_runs(log: Path) -> list[tuple[int, int]]:
    """(start, end) of each hook run, from the log the hooks wrote."""
    events: dict[str, dict[str, int]] = {}
    for line in log.read_text().splitlines():
        what, pid, ns = line.split()
        events.setdefault(pid, {})[what] = int(ns)
    return sorted((run["start"], run["end"]) for run in events.values())


@pytest.mark.timeout(120)
def test_concurrent_commits_with_cgseq_hooks_serialise_without_deadlock(
    repo: Path, tmp_path: Path
) -> None:
    commits = [commit(repo, f"commit {n}", under_cgseq=True) for n in range(3)]
    for process in commits:
        _, stderr = process.communicate(timeout=90)
        assert process.returncode == 0, stderr
    assert len(git(repo, "log", "--format=%s").splitlines()) == 3
    runs = hook_runs(tmp_path / "hooks.log")
    assert len(runs) == 3, "every commit ran its hook"
    for (_, end), (start, _) in itertools.pairwise(runs):
        assert end <= start, "two hooks ran at once: the commits were not one at a time"


@pytest.mark.timeout(120)
def test_hook_of_a_plain_commit_queues_behind_a_running_job(repo: Path, tmp_path: Path) -> None:
    """Outside any cgseq job the hook's `cgseq run` is an ordinary job: it waits its turn."""
    ready, release, marker = (tmp_path / name for name in ("ready", "release", "holder-done"))
    script = f"touch {ready}; while [ ! -e {release} ]; do sleep 0.02; done; touch {marker}"
    holder = start_cgseq("run", "--", "sh", "-c", script, cwd=repo)
    try:
        wait_until(lambda: ready.exists() or holder.proc.poll() is not None, 30, "the holder")
        assert ready.exists(), holder.stderr
        commit_argv = ["git", "commit", "-q", "--allow-empty", "-m", "plain"]
        plain = start_process(commit_argv, cwd=repo, env=with_repo_on_path())
        plain.wait_stderr(WAITING, 30)  # the hook's cgseq queued behind the holder
        assert not (tmp_path / "hooks.log").exists(), "the hook ran beside the holder's job"
        release.touch()
        assert plain.wait(60) == 0, plain.stderr
        assert marker.exists(), "the hook ran before the job holding the turn had finished"
        assert len(hook_runs(tmp_path / "hooks.log")) == 1
        assert holder.wait(30) == 0, holder.stderr
    finally:
        release.touch()
        holder.wait(30)
