"""``cgseq init`` and ``cgseq init --check`` in a real temporary git repository."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from cgseq import config
from cgseq.integrations import setup
from tests.support import run_cgseq

pytestmark = pytest.mark.timeout(180)

PROJECT = '[project]\nname = "demo"   # a comment cgseq must keep\n\n[tool.other]\nx = 1'


def missing(check_output: str) -> list[str]:
    return [line.split()[1] for line in check_output.splitlines() if line.startswith("missing")]


def test_check_before_and_after_init(repo: Path) -> None:
    before = run_cgseq("init", "--check", cwd=repo)
    assert before.returncode == 1, before.stdout + before.stderr
    assert missing(before.stdout) == ["limits", "pre-commit"], before.stdout
    done = run_cgseq("init", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "limits: created" in done.stdout and "pre-commit: installed" in done.stdout
    after = run_cgseq("init", "--check", cwd=repo)
    assert after.returncode == 0, after.stdout + after.stderr
    assert missing(after.stdout) == []
    assert "pytest plugin" in after.stdout and "backend" in after.stdout


def test_appends_without_reformatting_and_is_idempotent(repo: Path) -> None:
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(PROJECT)  # no newline at its end
    assert run_cgseq("init", cwd=repo).returncode == 0
    text = pyproject.read_text()
    assert text.startswith(PROJECT + "\n")  # the user's text, byte for byte
    settings = config.resolve(str(repo))
    assert settings["memory"].value == setup.memory_limit(setup.machine_memory())
    assert settings["pids"].value == setup.PIDS
    assert tomllib.loads(text)["tool"]["other"] == {"x": 1}
    again = run_cgseq("init", cwd=repo)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("left alone") == 2, again.stdout
    assert pyproject.read_text() == text


def test_dry_run_changes_nothing(repo: Path) -> None:
    done = run_cgseq("init", "--dry-run", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("(dry run, not done)") == 2, done.stdout
    assert not (repo / "pyproject.toml").exists()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_a_foreign_hook_is_kept(repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    done = run_cgseq("init", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert (
        repo / ".git" / "hooks" / "pre-commit.cgseq-legacy"
    ).read_text() == "#!/bin/sh\nexit 0\n"


def test_refusals(repo: Path, tmp_path: Path) -> None:
    (repo / "pyproject.toml").write_text("tool = { other = 1 }\n")
    refused = run_cgseq("init", cwd=repo)
    assert refused.returncode == 2 and "left alone" in refused.stdout
    (repo / "pyproject.toml").write_text("[tool\n")
    bad = run_cgseq("init", cwd=repo)
    assert bad.returncode == 2 and bad.stderr.startswith("cgseq: invalid TOML")
    outside = tmp_path / "outside"
    outside.mkdir()
    assert run_cgseq("init", cwd=outside).returncode == 2


def test_memory_rule() -> None:
    assert setup.memory_limit(16 << 30) == 8 << 30
    assert setup.memory_limit(15 << 30) == 7 << 30  # rounded down to whole GiB
    assert setup.memory_limit(1 << 30) == 1 << 30  # at least 1G
