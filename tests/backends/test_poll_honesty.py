"""The poll backend counts what the kernel's controllers count, as far as /proc shows it.

Real jobs through the real CLI on ``--backend poll``: threads count as tasks under
``--pids`` (like the pids controller), files a job holds in /dev/shm count as its memory
and are named when the kill leaves them behind, file-backed shared mappings do not count
(like a memory cgroup, which can reclaim them), and the peak task count is at least what
the job itself saw before it was killed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HELPERS = REPO / "tests" / "helpers"
MiB = 1 << 20
POLL_RUN = [sys.executable, "-m", "cgseq", "run", "--backend", "poll", "--json"]


def cgseq_env() -> dict[str, str]:
    """This test's environment (its private CGSEQ_STATE_DIR) with cgseq importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{REPO}{os.pathsep}{env.get('PYTHONPATH', '')}".rstrip(os.pathsep)
    return env


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.01)


def poll_run(*args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], dict]:
    """``cgseq run --backend poll --json ARGS``; the process and its JSON result."""
    done = subprocess.run(
        [*POLL_RUN, *args],
        env=cgseq_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    start = done.stdout.rfind("\n{") + 1
    return done, json.loads(done.stdout[start:])


def helper(name: str, *args: object) -> list[str]:
    return [sys.executable, str(HELPERS / f"poll_{name}.py"), *map(str, args)]


def reason_line(stderr: str) -> str:
    lines = [
        line
        for line in stderr.splitlines()
        if line.startswith("cgseq:") and not line.startswith("cgseq: warning:")
    ]
    assert lines, stderr
    return lines[-1]


def logged(path: Path) -> list[int]:
    return [int(field) for field in path.read_text().split()] if path.exists() else []


@pytest.fixture
def shm_file() -> Iterator[Path]:
    """A fresh /dev/shm name for one test, removed afterwards whatever happened."""
    path = Path("/dev/shm") / f"cgseq-test-{uuid.uuid4().hex}"
    yield path
    path.unlink(missing_ok=True)


@pytest.mark.timeout(60)
def test_threads_count_as_tasks_under_pids(tmp_path: Path) -> None:
    log = tmp_path / "tasks"
    done, result = poll_run("--pids", "50", "--", *helper("threads", 100, log))
    assert done.returncode == 137, done.stderr
    assert result["reason"] == "pids", result
    assert "over limit 50" in reason_line(done.stderr)
    # the job reached the limit by its own count (the task past it may be stopped before it logs)
    assert max(logged(log)) >= 50


@pytest.mark.timeout(60)
def test_fork_loop_peak_is_at_least_what_the_job_had(tmp_path: Path) -> None:
    log = tmp_path / "processes"
    done, result = poll_run("--pids", "50", "--", *helper("forks", 300, log))
    assert done.returncode == 137, done.stderr
    assert result["reason"] == "pids", result
    had = max(logged(log))
    assert result["peak_pids"] >= had, (result["peak_pids"], had)


@pytest.mark.timeout(60)
def test_shm_file_counts_and_is_named_and_removed(tmp_path: Path, shm_file: Path) -> None:
    log = tmp_path / "written"
    done, result = poll_run("--memory", "100M", "--", *helper("shm", shm_file, 160, log))
    assert done.returncode == 137, done.stderr
    assert result["reason"] == "memory", result
    line = reason_line(done.stderr)
    assert str(shm_file) in line, line
    # Created during the job, by its user, held by nothing but the job: certainly the job's.
    assert not shm_file.exists()
    assert any(str(shm_file) in entry and "removed" in entry for entry in result["shm_files"])


@pytest.mark.timeout(60)
def test_shm_file_that_existed_before_the_job_is_named_but_kept(
    tmp_path: Path, shm_file: Path
) -> None:
    shm_file.write_bytes(b"")
    log = tmp_path / "written"
    done, result = poll_run(
        "--memory", "100M", "--", *helper("shm", shm_file, 160, log, "--existing")
    )
    assert done.returncode == 137, done.stderr
    assert result["reason"] == "memory", result
    assert str(shm_file) in reason_line(done.stderr)
    assert shm_file.exists(), "a file that was there before the job is not the job's to remove"
    assert any(str(shm_file) in entry and "left" in entry for entry in result["shm_files"])


@pytest.mark.timeout(60)
def test_shm_file_also_held_outside_the_job_is_named_but_kept(
    tmp_path: Path, shm_file: Path
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    log = tmp_path / "written"
    argv = helper("shm", shm_file, 160, log, "--gate", gate)
    running = subprocess.Popen(
        [*POLL_RUN, "--memory", "100M", "--", *argv],
        env=cgseq_env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_for(lambda: shm_file.exists() or running.poll() is not None, 20, "the shm file")
        with shm_file.open("rb"), gate.open("w") as opened:  # this test holds it too
            opened.write("go\n")
            opened.close()
            out, err = running.communicate(timeout=40)
    finally:
        if running.poll() is None:
            running.kill()  # our own child, by pid
            running.wait(10)
    assert running.returncode == 137, err
    assert f"also held by pid {os.getpid()}" in reason_line(err), err
    assert shm_file.exists(), "a file another process holds is not certainly the job's"
    assert json.loads(out[out.rfind("\n{") + 1 :])["reason"] == "memory"


@pytest.mark.timeout(60)
def test_memfd_counts_as_the_jobs_memory() -> None:
    done, result = poll_run("--memory", "50M", "--", *helper("memfd", 60, "--hold", "10"))
    assert done.returncode == 137, done.stderr
    assert result["reason"] == "memory", result
    assert "/memfd:cgseq-test" in reason_line(done.stderr)


@pytest.mark.timeout(60)
def test_memfd_held_and_mapped_counts_once() -> None:
    done, result = poll_run("--memory", "100M", "--", *helper("memfd", 60, "--map"))
    assert done.returncode == 0, done.stderr  # 60M + the interpreter, not 2 x 60M
    assert result["reason"] == "exited", result
    assert 60 * MiB <= result["peak_memory"] < 100 * MiB, result["peak_memory"]


@pytest.mark.timeout(60)
def test_shared_file_mapping_is_not_the_jobs_memory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with data.open("wb") as handle:
        for _ in range(160):
            handle.write(b"f" * MiB)
    log = tmp_path / "mapped"
    done, result = poll_run("--memory", "80M", "--", *helper("mmap", data, log))
    assert done.returncode == 0, done.stderr
    assert result["reason"] == "exited", result
    assert log.read_text().startswith(f"mapped {160 * MiB}")


@pytest.mark.timeout(60)
def test_children_over_the_limit_are_killed_for_memory() -> None:
    done, result = poll_run("--memory", "150M", "--", *helper("children", 10, 30))
    assert done.returncode == 137, done.stderr
    assert result["reason"] == "memory", result
    assert "over limit 150M" in reason_line(done.stderr)
    assert result["peak_memory"] > 150 * MiB
