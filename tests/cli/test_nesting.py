"""Nested runs are found by ancestry: a scrubbed environment does not make a job wait on itself.

And a nested run that names a backend other than the enclosing job's says so in one line.
(Non-descendants still queue: tests/cli/test_queue.py::test_stale_turn_token_* .)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from cli_support import REPO, WAITING, cgseq_env, job, parse_result

CGSEQ = [sys.executable, "-m", "cgseq"]


def scrubbed(*argv: str) -> list[str]:
    """``env -i`` as tox or sudo do it; only PATH and what isolates the test are passed on."""
    env = cgseq_env()
    kept = {name: env[name] for name in ("CGSEQ_STATE_DIR", "CGSEQ_CGROUP_PARENT") if name in env}
    kept |= {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)}
    return ["env", "-i", *(f"{name}={value}" for name, value in kept.items()), *argv]


@pytest.mark.timeout(60)
def test_a_nested_run_with_a_scrubbed_environment_runs_inline(cgseq, work: Path):
    """``cgseq run -- env -i ... cgseq run -- ...`` used to wait behind its own ancestor."""
    mark = work / "mark"
    inner = scrubbed(*CGSEQ, "run", "--wait-timeout", "5", "--", *job("mark", mark))
    done = cgseq("run", "--", *inner, timeout=30)
    assert WAITING not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    seen = json.loads(mark.read_text())
    assert "CGSEQ_TURN" not in seen["env"], "the environment was not scrubbed"


@pytest.mark.timeout(60)
def test_a_scrubbed_nested_run_two_levels_down_runs_inline(cgseq, work: Path):
    mark = work / "mark"
    innermost = scrubbed(*CGSEQ, "run", "--wait-timeout", "5", "--", *job("mark", mark))
    middle = scrubbed(*CGSEQ, "run", "--wait-timeout", "5", "--", *innermost)
    done = cgseq("run", "--", *middle, timeout=30)
    assert done.returncode == 0, done.stderr
    assert WAITING not in done.stderr, done.stderr
    assert mark.exists()


@pytest.mark.timeout(60)
def test_a_nested_run_naming_another_backend_says_it_runs_under_the_outer_one(cgseq):
    inner = [*CGSEQ, "run", "--backend", "cgroup1", "--json", "--", "true"]
    done = cgseq("run", "--backend", "poll", "--", *inner, timeout=30)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "cgroup1" in line]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("cgseq: warning:") and "poll" in lines[0], lines[0]
    assert any("cgroup1" in w for w in parse_result(done.stdout)["warnings"]), done.stdout


@pytest.mark.timeout(60)
@pytest.mark.parametrize("named", ["poll", "auto"])
def test_a_nested_run_naming_the_outer_backend_or_none_says_nothing(cgseq, named: str):
    inner = [*CGSEQ, "run", "--backend", named, "--", "true"]
    done = cgseq("run", "--backend", "poll", "--", *inner, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr
