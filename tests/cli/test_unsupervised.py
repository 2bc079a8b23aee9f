"""A job whose supervisor was SIGKILLed runs on unsupervised: status shows it, and it is ended.

Nobody else is queued, so no next holder reaps it at once: ``cgseq status`` must say the job
still runs (past its --timeout), and ``cgseq doctor --clean`` or the next run must end it.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import job, pid_running, wait_until
from private_cgroups import private_env, remove_private_groups, require_backend

PARENT = "cgseq-test-unsupervised"  # no other test's run may reap our orphan before we look


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    yield private_env(PARENT)
    remove_private_groups(PARENT)


def orphan_a_job(start, work: Path, reaper, env, backend: str) -> tuple[int, int]:
    """(supervisor pid, job pid): a held job under --timeout 1 whose supervisor was SIGKILLed."""
    ready, release = work / "ready", work / "release"
    options = ("--backend", backend, "--timeout", "1")
    holder = start("run", *options, "--", *job("hold", ready, release), env=env)
    wait_until(lambda: ready.exists() or holder.proc.poll() is not None, 15, "the job to start")
    assert ready.exists(), f"holder exited {holder.proc.poll()}:\n{holder.stderr}"
    job_pid = int(json.loads(ready.read_text())["pid"])
    reaper.track(job_pid)
    os.kill(holder.pid, signal.SIGKILL)  # the cgseq process this test started
    holder.wait(10)
    assert pid_running(job_pid), "the job died with its supervisor: nothing to test"
    return holder.pid, job_pid


@pytest.mark.timeout(90)
@pytest.mark.parametrize("backend", ["poll", "cgroup1"])
def test_status_shows_a_job_whose_supervisor_died(
    cgseq, start, work: Path, reaper, env, backend: str
):
    require_backend(backend)
    supervisor, job_pid = orphan_a_job(start, work, reaper, env, backend)

    def status_text() -> str:
        done = cgseq("status", env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    wait_until(lambda: "past its timeout" in status_text(), 15, "status to say past its timeout")
    text = status_text()
    assert "unsupervised" in text, text
    assert f"supervisor pid {supervisor} died" in text, text
    assert f"job pid {job_pid} still running" in text, text
    slots = json.loads(cgseq("status", "--json", env=env).stdout)["slots"]
    assert len(slots) == 1, slots
    unsupervised = slots[0]["unsupervised"]
    assert unsupervised["supervisor_pid"] == supervisor, unsupervised
    assert unsupervised["job_pid"] == job_pid, unsupervised
    assert unsupervised["past_timeout"] is True, unsupervised
    assert cgseq("doctor", "--clean", "--no-canary", env=env).returncode in (0, 1)
    assert not pid_running(job_pid)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("backend", ["poll", "cgroup1"])
@pytest.mark.parametrize("ender", ["doctor --clean", "next run"])
def test_an_unsupervised_job_is_ended_by_doctor_clean_or_the_next_run(
    cgseq, start, work: Path, reaper, env, backend: str, ender: str
):
    require_backend(backend)
    _supervisor, job_pid = orphan_a_job(start, work, reaper, env, backend)
    if ender == "next run":
        done = cgseq("run", "--backend", backend, "--", "true", env=env)
        assert done.returncode == 0, done.stderr
    else:
        done = cgseq("doctor", "--clean", "--no-canary", "--json", env=env)
        assert done.returncode in (0, 1), done.stderr  # 1: a canary failed (none run here)
        assert json.loads(done.stdout)["cleaned"], done.stdout
    assert f"pid {job_pid}" in done.stdout + done.stderr, done.stdout + done.stderr
    wait_until(lambda: not pid_running(job_pid), 10, f"job pid {job_pid} to be ended")
    after = cgseq("status", "--json", env=env)
    assert json.loads(after.stdout)["slots"] == [], after.stdout


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "record",
    [
        {"pid": 1, "job_pid": 1, "job_id": "", "argv": "x", "limits": [], "since": "soon"},
        {"pid": None, "job_pid": 1, "job_id": 5, "limits": {"timeout": "1s"}, "argv": [1, None]},
    ],
)
def test_status_shows_a_nonsense_holder_record_without_a_traceback(cgseq, state_dir: Path, record):
    """A holder record is data: status only shows it, whatever its types."""
    slot = state_dir / "slots" / "forged-00000000"
    slot.mkdir(parents=True)
    (slot / "holder.json").write_text(json.dumps(record))
    shown = cgseq("status", "--all")  # another slot than this project's
    assert shown.returncode == 0 and "unsupervised" in shown.stdout, shown.stdout + shown.stderr
    data = cgseq("status", "--all", "--json")
    assert data.returncode == 0, data.stderr
    assert json.loads(data.stdout)["slots"][0]["unsupervised"]["job_running"] is False
