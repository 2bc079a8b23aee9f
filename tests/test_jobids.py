"""Job ids round-trip, stay valid group and unit names, and tell a live supervisor from a dead one.

Liveness is checked against real processes: this one, a child that exited (zombie, then
reaped), a live process whose start does not match the id (what a reused pid looks like),
and a child whose wall clock is an hour off (a clock step must not matter).
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cgseq import jobids
from tests.conftest import require

PRINT_ID_AND_WAIT = (
    "import sys; from cgseq.jobids import new_job_id; print(new_job_id(), flush=True); "
    "sys.stdin.read()"
)
REPO = Path(__file__).resolve().parents[1]


def kernel_start(pid: int) -> int:
    """Field 22 of /proc/<pid>/stat, read independently of cgseq."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


@pytest.fixture
def child_id() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A live child process and the job id it made; it exits when its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PRINT_ID_AND_WAIT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    yield proc, proc.stdout.readline().strip()
    proc.kill()
    proc.wait(10)


def test_a_new_id_names_this_process_and_its_kernel_start() -> None:
    parsed = jobids.parse(jobids.new_job_id())
    assert parsed is not None
    assert parsed.pid == os.getpid()
    if sys.platform.startswith("linux"):
        assert parsed.start == kernel_start(os.getpid())


def test_ids_of_one_process_are_distinct() -> None:
    made = [jobids.new_job_id() for _ in range(200)]
    assert len(set(made)) == len(made)


def test_ids_are_valid_cgroup_dir_and_systemd_unit_names() -> None:
    job_id = jobids.new_job_id()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", job_id), job_id
    assert len(f"cgseq-some-project-{job_id}.scope") < 256


def test_this_process_is_a_live_supervisor() -> None:
    assert jobids.supervisor_alive(jobids.new_job_id())


def test_a_live_child_is_alive_and_dead_once_exited(child_id) -> None:
    proc, job_id = child_id
    assert jobids.parse(job_id).pid == proc.pid
    assert jobids.supervisor_alive(job_id)
    proc.stdin.close()
    waited = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, still a zombie
    assert waited is not None
    assert not jobids.supervisor_alive(job_id), "a zombie is not a live supervisor"
    proc.wait(10)
    assert not jobids.supervisor_alive(job_id), "a gone pid is not a live supervisor"


def test_a_live_pid_with_another_start_is_not_the_supervisor(child_id) -> None:
    """What a reused pid looks like: the pid runs, but it started at another moment."""
    proc, job_id = child_id
    pid, start = jobids.parse(job_id)
    assert pid == proc.pid and start is not None
    for other in (start - 1, start + 1):
        assert not jobids.supervisor_alive(f"{pid}-{other:x}-1")


def test_a_wall_clock_an_hour_off_does_not_change_liveness() -> None:
    """The id's writer sees a stepped clock (libfaketime); its checker sees the true one."""
    library = (glob.glob("/usr/lib/*/faketime/libfaketime.so.1") or [None])[0]
    require("faketime", library is not None, "apt-get install faketime")
    for offset in ("-1h", "+1h"):
        env = os.environ | {"PYTHONPATH": str(REPO), "LD_PRELOAD": str(library)}
        env |= {"FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        with subprocess.Popen(
            [sys.executable, "-c", PRINT_ID_AND_WAIT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        ) as proc:
            assert proc.stdout is not None and proc.stdin is not None
            job_id = proc.stdout.readline().strip()
            assert jobids.supervisor_alive(job_id), f"{job_id} (clock {offset}) taken for dead"
            proc.stdin.close()


def test_an_old_format_id_is_ours_and_alive_while_its_pid_runs(child_id) -> None:
    """``<pid>-<wall-clock ms hex>``: its start cannot be trusted, so never kill on it."""
    proc, _ = child_id
    old = f"{proc.pid}-{1:x}"  # a start time long before the process began
    assert jobids.parse(old) == (proc.pid, None)
    assert jobids.supervisor_alive(old)
    proc.stdin.close()
    proc.wait(10)
    assert not jobids.supervisor_alive(old)


@pytest.mark.parametrize(
    "name",
    ["", "abc", "12", "12-", "-12-ab", "12-xyz", "12-ab-", "12-ab-cd-ef", "0x1-ab-1", "١٢-ab-1"],
)
def test_other_names_are_not_ours_and_never_judged_dead(name: str) -> None:
    assert jobids.parse(name) is None
    assert jobids.supervisor_alive(name)


def test_the_create_time_check_used_without_proc(child_id) -> None:
    """macOS has no /proc: the id carries psutil's create time, compared for near-equality."""
    proc, _ = child_id
    start = jobids.psutil_start(proc.pid)
    assert start is not None
    assert jobids.alive_by_psutil(proc.pid, start)
    assert not jobids.alive_by_psutil(proc.pid, start + 1000)
    proc.stdin.close()
    proc.wait(10)
    assert not jobids.alive_by_psutil(proc.pid, start)
