"""Ten ``git commit``s fired at once in a repository with cgseq's hook over a slow hook.

Plain commits race in git itself (``index.lock`` while the index is refreshed, the ``HEAD``
ref at the end): each one lands or fails with git's own message; cgseq only makes sure
that their hooks run one at a time. Under ``cgseq run -- git commit`` the commits queue on
the project's turn as a whole, their hooks run inline in it, and all ten land.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from integration_support import assert_one_at_a_time, git, heavy_step, init_repo, write_hook

from tests.support import WAITING, run_cgseq

COMMITS = 10
HOLD = "0.3"  # s a hook body holds: long enough that overlapping bodies would show
BOUND = 240  # s for all ten to end: generous (a loaded 2-core VM), never a timing assertion
# what git says when it refuses a commit of a storm; anything else is a failure
GITS_OWN = ("fatal: ", "error: ", "nothing to commit", "nothing added to commit")


def stage_files(repo: Path) -> list[str]:
    names = [f"file{n}" for n in range(COMMITS)]
    for name in names:
        (repo / name).write_text(f"{name}\n")
    git(repo, "add", *names)
    return names


def hooked_repo(repo: Path, log: Path, *options: str) -> Path:
    write_hook(repo / ".git" / "hooks" / "pre-commit", heavy_step(log, "hook", *options))
    done = run_cgseq("hooks", "install", cwd=repo)
    assert done.returncode == 0, done.stderr
    return repo


def storm(repo: Path, argvs: list[list[str]]) -> list[tuple[int, str]]:
    """Start every argv at once; (exit code, stdout + stderr) of each, all bounded."""
    processes = [
        subprocess.Popen(
            argv,
            cwd=repo,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for argv in argvs
    ]
    deadline = time.monotonic() + BOUND
    results = []
    for process in processes:
        try:
            output, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()  # only the processes this test started, by their handle
            raise AssertionError(f"a commit was still running after {BOUND}s") from None
        results.append((process.returncode, output))
    return results


def landed(repo: Path) -> list[str]:
    """Subjects of the commits after the initial one, newest first."""
    return git(repo, "log", "--format=%s", "HEAD").splitlines()[:-1]


@pytest.mark.timeout(300)
def test_ten_plain_commits_run_their_hooks_one_at_a_time(repo: Path, log: Path) -> None:
    """As-is commits of one staged set, not ``git commit -- fileN``: a partial commit holds
    ``index.lock`` for the whole commit, its hook included, so git alone would make nine of
    them fail at once and the hooks could never overlap. As-is commits take the lock only to
    refresh the index, so several reach their hooks together; the losers fail with git's
    own message (``index.lock``, ``cannot lock ref 'HEAD'``, ``nothing to commit`` once the
    first one took every staged file)."""
    hooked_repo(repo, log, "--hold", HOLD)
    names = stage_files(repo)
    commits = [["git", "commit", "-q", "-m", f"commit {n}"] for n in range(COMMITS)]
    results = storm(repo, commits)

    for code, output in results:
        lines = [line for line in output.splitlines() if not line.startswith(WAITING)]
        assert code == 0 or any(own in output for own in GITS_OWN), output
        assert not any(line.startswith("cgseq:") for line in lines), output
        assert "Traceback" not in output, output
    runs = assert_one_at_a_time(log)
    assert runs and all(run.turn != "-" for run in runs), "a hook ran outside a cgseq turn"
    succeeded = sum(code == 0 for code, _ in results)
    assert succeeded >= 1 and len(landed(repo)) == succeeded, results
    # nothing staged is lost: every file is in HEAD, and the index has nothing else
    assert set(names) <= set(git(repo, "ls-tree", "--name-only", "HEAD").split())
    assert git(repo, "status", "--porcelain") == ""


ROUNDS = 20  # the "20 times in a row": 4.3 s a round on the 2-core host (86 s)


@pytest.mark.timeout(1200)
def test_ten_commits_under_cgseq_run_all_land_with_their_hooks_inline(tmp_path: Path) -> None:
    """Each ``cgseq run -- git commit -- fileN`` takes the project's turn; its hook's own
    ``cgseq run`` runs inline in that turn (queueing behind its ancestor would hang).
    Twenty rounds in a row, each in a fresh repository."""
    for round_ in range(ROUNDS):
        where = tmp_path / f"round{round_}"
        commits_under_cgseq_all_land(init_repo(where / "repo"), where / "steps.log")


def commits_under_cgseq_all_land(repo: Path, log: Path) -> None:
    hooked_repo(repo, log)
    names = stage_files(repo)
    cgseq = [sys.executable, "-m", "cgseq", "run", "--"]
    commits = [[*cgseq, "git", "commit", "-q", "-m", name, "--", name] for name in names]
    results = storm(repo, commits)

    assert [code for code, _ in results] == [0] * COMMITS, results
    assert sorted(landed(repo)) == sorted(names)
    for line in git(repo, "log", "--format=%H %s", "HEAD~10..HEAD").splitlines():
        sha, subject = line.split()  # each commit holds its own file and nothing else
        assert git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", sha).split() == [
            subject
        ]
    runs = assert_one_at_a_time(log)
    assert len(runs) == COMMITS
    turns = {run.turn for run in runs}
    assert len(turns) == COMMITS and "-" not in turns, "each hook ran in its commit's turn"
    assert git(repo, "status", "--porcelain") == ""
