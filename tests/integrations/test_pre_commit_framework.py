"""The real pre-commit framework: heavy hooks through ``cgseq run --``, pre-commit's hook
under cgseq's, and the shipped ``.pre-commit-hooks.yaml``. Local ``language: system`` hooks
only (no network); PRE_COMMIT_HOME is the test's own (``conftest.py``)."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from integration_support import events, git, heavy_step, init_repo, steps, waiting_argvs

from cgseq.integrations.hooks import find_pre_commit
from tests.conftest import require
from tests.support import REPO, WAITING, run_cgseq, start_cgseq, start_process, wait_until

pytestmark = pytest.mark.timeout(180)

LOCAL_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: heavy
        name: heavy check
        entry: {entry}
        language: system
        pass_filenames: false
        require_serial: true
"""


@pytest.fixture
def pre_commit() -> str:
    found = find_pre_commit()
    require("pre-commit", found is not None, "pip install -e '.[test]' installs it")
    assert found is not None
    return found


def configure(repo: Path, argv: list[str]) -> None:
    """A local heavy hook running ``argv``, committed (pre-commit refuses an unstaged config)."""
    (repo / ".pre-commit-config.yaml").write_text(LOCAL_CONFIG.format(entry=shlex.join(argv)))
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-q", "--no-verify", "-m", "pre-commit config")


def run(argv: list[str], repo: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=repo, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def stage_a_change(repo: Path) -> None:
    """pre-commit skips its hooks when no file changed: give it one."""
    number = len(list(repo.glob("change*")))
    (repo / f"change{number}").write_text(f"{number}\n")
    git(repo, "add", f"change{number}")


def commit(repo: Path) -> subprocess.CompletedProcess[str]:
    stage_a_change(repo)
    return run(["git", "commit", "-q", "-m", "checked"], repo)


def test_a_heavy_hook_through_cgseq_waits_for_a_running_job_then_passes(
    repo: Path, log: Path, tmp_path: Path, pre_commit: str
) -> None:
    configure(repo, ["cgseq", "run", "--", *heavy_step(log, "hook")])
    assert run([pre_commit, "install"], repo).returncode == 0
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    holder = start_cgseq("run", "--", *heavy_step(log, "holder", "--fifo", fifo), cwd=repo)
    try:
        wait_until(lambda: "start holder" in events(log), 60, "the holder's job to start")
        stage_a_change(repo)
        checked = start_process(["git", "commit", "-q", "-m", "checked"], cwd=repo)

        def queued() -> bool:
            return any(str(log) in argv for argv in waiting_argvs())

        wait_until(lambda: queued() or checked.proc.poll() is not None, 60, "the hook to queue")
        assert queued(), f"the commit ended ({checked.proc.poll()}): {checked.stderr}"
        assert events(log) == ["start holder"], "the hook ran beside the holder's job"
        fifo.write_bytes(b"")  # opening for writing and closing lets the holder's job end
        assert checked.wait(120) == 0, checked.stderr
        assert holder.wait(60) == 0, holder.stderr
    finally:
        release(fifo)
        holder.wait(60)
    assert events(log) == ["start holder", "end holder", "start hook", "end hook"]


def release(fifo: Path) -> None:
    """Let a reader still blocked on ``fifo`` go (nothing happens when there is none)."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_cgseq_hook_runs_pre_commit_hook_impl_in_a_turn(
    repo: Path, log: Path, pre_commit: str
) -> None:
    """No hook of the user's, a .pre-commit-config.yaml: cgseq's hook runs pre-commit."""
    configure(repo, heavy_step(log, "plain"))  # the hook itself knows nothing of cgseq
    done = run_cgseq("hooks", "install", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "runs pre-commit hook-impl (.pre-commit-config.yaml) in a cgseq turn" in done.stdout
    assert commit(repo).returncode == 0
    [step] = steps(log)
    assert step.turn != "-", "pre-commit's hooks ran outside a cgseq turn"


def test_pre_commit_installed_first_is_chained_and_reinstalling_either_stays_one_hook(
    repo: Path, log: Path, pre_commit: str
) -> None:
    configure(repo, ["cgseq", "run", "--", *heavy_step(log, "nested")])
    hooks = repo / ".git" / "hooks"
    assert run([pre_commit, "install"], repo).returncode == 0
    pre_commits_hook = (hooks / "pre-commit").read_bytes()
    done = run_cgseq("hooks", "install", cwd=repo)
    assert "runs pre-commit.cgseq-legacy (pre-commit's hook) in a cgseq turn" in done.stdout
    checked = commit(repo)
    assert checked.returncode == 0, checked.stderr
    assert WAITING not in checked.stderr, "the hook's cgseq run queued behind its own commit"
    assert len(steps(log)) == 1

    # `pre-commit install` again moves cgseq's hook to .legacy ("migration mode"): from
    # there each would run the other. `cgseq hooks install` again sorts it out.
    assert run([pre_commit, "install"], repo).returncode == 0
    assert (hooks / "pre-commit.legacy").exists()
    done = run_cgseq("hooks", "install", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"removed {hooks / 'pre-commit.legacy'}: a copy of cgseq's hook" in done.stdout
    assert not (hooks / "pre-commit.legacy").exists()
    assert commit(repo).returncode == 0
    assert len(steps(log)) == 2, "the hook ran once for the commit"

    assert run_cgseq("hooks", "uninstall", cwd=repo).returncode == 0
    assert (hooks / "pre-commit").read_bytes() == pre_commits_hook
    assert run([pre_commit, "uninstall"], repo).returncode == 0
    assert not (hooks / "pre-commit").exists()


def test_the_shipped_manifest_runs_the_named_command_in_a_turn(
    tmp_path: Path, repo: Path, log: Path, pre_commit: str
) -> None:
    """``.pre-commit-hooks.yaml`` of this repository, used as a remote repo (a local path)."""
    hooks_repo = init_repo(tmp_path / "cgseq-hooks")
    shutil.copy(REPO / ".pre-commit-hooks.yaml", hooks_repo)
    git(hooks_repo, "add", ".pre-commit-hooks.yaml")
    git(hooks_repo, "commit", "-q", "-m", "manifest")
    rev = git(hooks_repo, "rev-parse", "HEAD").strip()
    args = ", ".join(shlex.quote(a) for a in heavy_step(log, "manifest"))
    config = (
        f"repos:\n  - repo: {hooks_repo}\n    rev: {rev}\n    hooks:\n"
        f"      - id: cgseq-run-system\n        args: [{args}]\n"
    )
    (repo / ".pre-commit-config.yaml").write_text(config)
    git(repo, "add", ".pre-commit-config.yaml")
    done = run([pre_commit, "run", "--all-files"], repo)
    assert done.returncode == 0, done.stdout + done.stderr
    [step] = steps(log)
    assert step.turn != "-", "the manifest's hook did not run its command in a cgseq turn"
    manifest = run([pre_commit, "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")], repo)
    assert manifest.returncode == 0, manifest.stdout


def readme_config() -> str:
    """The ``.pre-commit-config.yaml`` example of the README, as it is written there."""
    text = (REPO / "README.md").read_text()
    start = text.index("```yaml\n# .pre-commit-config.yaml\n") + len("```yaml\n")
    return text[start : text.index("```", start)]


def test_the_readme_example_config_passes_with_real_mypy_and_pytest(
    repo: Path, pre_commit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mypy and pytest of this interpreter's environment (the test extra) on PATH."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "src" / "pkg" / "__init__.py").write_text("def two() -> int:\n    return 2\n")
    (repo / "tests" / "unit").mkdir(parents=True)
    (repo / "tests" / "unit" / "test_two.py").write_text("def test_two():\n    assert 1 + 1 == 2\n")
    (repo / ".pre-commit-config.yaml").write_text(readme_config())
    git(repo, "add", ".")
    done = run([pre_commit, "run", "--all-files"], repo, timeout=170)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("Passed") == 2, done.stdout
