"""Fixtures of the CLI tests; the helpers they use live in ``cli_support``."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_support import (
    Holder,
    Reaper,
    Running,
    cgseq_env,
    job,
    remove_test_cgroups,
    run_cgseq,
    start_cgseq,
)


@pytest.fixture(scope="session", autouse=True)
def _own_cgroup_parent() -> Iterator[None]:
    yield
    remove_test_cgroups()


@pytest.fixture
def reaper() -> Iterator[Reaper]:
    r = Reaper()
    yield r
    r.cleanup()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A real git repository: cgseq's project is its top level."""
    root = tmp_path / "proj"
    root.mkdir()
    git = ["git", "-C", str(root)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True, timeout=30)
    subprocess.run([*git, "config", "user.name", "cgseq tests"], check=True, timeout=30)
    subprocess.run([*git, "config", "user.email", "tests@cgseq.invalid"], check=True, timeout=30)
    return root.resolve()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """Scratch dir for the files jobs write: outside the project tree."""
    path = tmp_path / "work"
    path.mkdir()
    return path


RunCgseq = Callable[..., subprocess.CompletedProcess[str]]
StartCgseq = Callable[..., Running]


@pytest.fixture
def cgseq(project: Path) -> RunCgseq:
    """``cgseq(*args)``: the one CLI runner, in the project, with the test's environment."""

    def run(
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 30,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return run_cgseq(
            *args, cwd=cwd or project, env=env or cgseq_env(), timeout=timeout, input=input
        )

    return run


@pytest.fixture
def start(project: Path, reaper: Reaper) -> StartCgseq:
    def launch(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Running:
        run = start_cgseq(*args, cwd=cwd or project, env=env or cgseq_env())
        reaper.running.append(run)
        return run

    return launch


@pytest.fixture
def hold(start: StartCgseq, work: Path, reaper: Reaper) -> Callable[..., Holder]:
    """``hold("name", *cgseq_options)`` starts a holder and waits until its job runs."""

    def make(name: str = "holder", *options: str, cwd: Path | None = None) -> Holder:
        ready, release, end = (work / f"{name}.{s}" for s in ("ready", "release", "end"))
        run = start("run", *options, "--", *job("hold", ready, release, "--end", end), cwd=cwd)
        holder = Holder(run, ready, release, end)
        reaper.track(int(holder.info()["pid"]))  # type: ignore[call-overload]
        return holder

    return make
