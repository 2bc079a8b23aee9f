"""Fixtures of the integration tests: git, pre-commit, make and the shims see only the test's
own settings, and ``cgseq`` on PATH is this checkout run by this interpreter."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from integration_support import init_repo

from tests.support import with_repo_on_path

GITCONFIG = """\
[user]
	name = cgseq tests
	email = tests@cgseq.invalid
[commit]
	gpgsign = false
[init]
	defaultBranch = main
"""


@pytest.fixture(autouse=True)
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private home for git's and pre-commit's settings; returns the bin dir on PATH."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "gitconfig").write_text(GITCONFIG)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(home / "pre-commit"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "share"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cgseq = bin_dir / "cgseq"
    cgseq.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cgseq "$@"\n')
    cgseq.chmod(0o755)
    for name, value in with_repo_on_path().items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return init_repo(tmp_path / "repo")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """Where heavy steps note their start and end (outside the repository)."""
    return tmp_path / "steps.log"
