"""``cgseq init --check`` and ``cgseq doctor`` on heavy pre-commit hooks, in real git repos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import run_cgseq

pytestmark = pytest.mark.timeout(180)

HEAVY = """repos:
- repo: local
  hooks:
  - id: mypy
    name: mypy
    entry: uv run mypy
    language: system
    pass_filenames: false
  - id: whitespace
    name: whitespace
    entry: true
    language: system
"""

ROUTED = HEAVY.replace("entry: uv run mypy", "entry: cgseq run -- mypy")


def heavy_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.split()[1:2] == ["heavy"]]


def missing_heavy(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.split()[:2] == ["missing", "heavy"]]


def test_a_heavy_hook_outside_cgseq_is_missing(repo: Path) -> None:
    (repo / ".pre-commit-config.yaml").write_text(HEAVY)
    done = run_cgseq("init", "--check", cwd=repo)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = heavy_lines(done.stdout)
    assert len(lines) == 1 and lines[0].startswith("missing"), done.stdout
    assert "mypy" in lines[0] and "cgseq run --" in lines[0], lines
    assert "whitespace" not in done.stdout


def test_a_heavy_hook_through_cgseq_run_is_fine(repo: Path) -> None:
    (repo / ".pre-commit-config.yaml").write_text(ROUTED)
    done = run_cgseq("init", "--check", cwd=repo)
    assert missing_heavy(done.stdout) == [], done.stdout
    assert "each runs through 'cgseq run'" in done.stdout
    assert "traceback" not in (done.stdout + done.stderr).lower()


def test_cgseqs_git_hook_over_pre_commit_covers_every_hook(repo: Path) -> None:
    (repo / ".pre-commit-config.yaml").write_text(HEAVY)
    assert run_cgseq("init", cwd=repo).returncode == 0
    done = run_cgseq("init", "--check", cwd=repo)
    assert missing_heavy(done.stdout) == [], done.stdout
    assert "runs pre-commit in one turn" in done.stdout
    assert done.returncode == 0, done.stdout + done.stderr


def test_bad_yaml_is_one_line(repo: Path) -> None:
    (repo / ".pre-commit-config.yaml").write_text("repos: [\n  - : :\n")
    done = run_cgseq("init", "--check", cwd=repo)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert [line for line in done.stdout.splitlines() if "invalid YAML" in line], done.stdout


def test_doctor_shows_project_setup_inside_a_project_only(repo: Path, tmp_path: Path) -> None:
    (repo / ".pre-commit-config.yaml").write_text(HEAVY)
    inside = run_cgseq("doctor", "--no-canary", "--json", cwd=repo)
    assert inside.returncode == 0, inside.stderr
    setup = json.loads(inside.stdout)["project_setup"]
    assert setup, inside.stdout
    outside_dir = tmp_path / "elsewhere"
    outside_dir.mkdir()
    outside = run_cgseq("doctor", "--no-canary", "--json", cwd=outside_dir)
    assert json.loads(outside.stdout)["project_setup"] is None
