"""Both kernel cgroup backends, cgroup1 and cgroup2, against one behaviour table.

Each test runs once per backend (the ``backend_name`` fixture): cgroup1 on hybrid hosts
(memory, pids, freezer on cgroup v1, as root), cgroup2 on pure cgroup v2 (the test VM,
marked ``vm``). A backend that is not available here is a skip with its probe's reason, or
a failure when ``CGSEQ_TEST_REQUIRE`` names it. Each case drives a real group the way the
supervisor does (spawn -> place -> release, sample, kill, wait empty, close) with real
processes from ``tests/helpers``. No supervisor runs here, so the ``jobs`` fixture makes
the test process a child subreaper while the test runs and reaps every child it adopts.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cgseq.backends import cgroup2, cgroupfs, load
from cgseq.backends.base import Backend, JobGroup
from cgseq.jobids import new_job_id
from cgseq.model import Breach, JobSpec, Limits, TerminationReason
from cgseq.supervise.spawn import spawn_held
from tests.conftest import require
from tests.support import pid_running as alive
from tests.support import wait_until

TESTS = Path(__file__).resolve().parents[1]
HELPERS = TESTS / "helpers"
REPO = TESTS.parent
PARENT = "cgseq-test"  # tests' own parent group below each hierarchy root
MB = 1 << 20
FORCED = 64 * 4096  # what the kernel may force-charge past memory.max while it OOM-kills
PR_SET_CHILD_SUBREAPER = 36


def _subreaper(on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap(pids: set[int]) -> None:
    """waitpid every pid that is (or became, as an orphan) our child; others are skipped."""
    for pid in list(pids):
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                pids.discard(pid)
        except ChildProcessError:
            pids.discard(pid)


@dataclass
class Jobs:
    """Groups and processes a test made; ``cleanup`` kills, reaps and removes them all."""

    backend: Backend
    groups: list[JobGroup] = field(default_factory=list)
    children: set[int] = field(default_factory=set)

    def start(self, argv: list[str], limits: Limits) -> tuple[JobGroup, int]:
        group = self.backend.open_group(JobSpec(tuple(argv), limits), new_job_id())
        self.groups.append(group)
        child = spawn_held(argv)
        self.children.add(child.pid)
        group.place(child.pid)
        child.release()
        return group, child.pid

    def watch(self, group: JobGroup, timeout: float) -> Breach | None:
        """The supervisor's loop in small: sample, kill on a breach, until the group is empty."""
        deadline = time.monotonic() + timeout
        breach = None
        while not group.is_empty() and time.monotonic() < deadline:
            self.children.update(group.pids())
            found = group.sample()
            if found is not None and breach is None:
                breach = found
                group.kill()
            reap(self.children)
            time.sleep(0.02)
        reap(self.children)
        return breach

    def finish(self, group: JobGroup) -> None:
        """kill -> empty -> close, as the supervisor ends a job."""
        self.children.update(group.pids())
        group.kill()
        wait_until(lambda: (reap(self.children), group.is_empty())[1], 10)
        group.close()

    def cleanup(self) -> None:
        for group in self.groups:
            try:
                self.finish(group)
            except BaseException:
                paths = [Path(p) for p in group.record().get("paths", [])]
                cgroupfs.kill_paths(paths)
                reap(self.children)
                for path in paths:
                    cgroupfs.remove_group(path)
        wait_until(lambda: (reap(self.children), not self.children)[1], 10)


pytestmark = [pytest.mark.kernel, pytest.mark.timeout(300)]


@pytest.fixture(params=["cgroup1", pytest.param("cgroup2", marks=pytest.mark.vm)])
def backend_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def backend(backend_name: str, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """The backend under test, gated on root and on its own probe."""
    monkeypatch.setenv(cgroupfs.PARENT_ENV, PARENT)
    require("root", os.geteuid() == 0, "the cgroup tests create groups as root")
    found = load(backend_name).probe()
    require(backend_name, found.available, f"{found.reason} (fix: {found.fix})")
    return load(backend_name)


@pytest.fixture
def jobs(backend: Backend) -> Iterator[Jobs]:
    made = Jobs(backend)
    _subreaper(True)  # orphans (daemons, a dead fake supervisor's job) become ours to reap
    try:
        yield made
    finally:
        try:
            made.cleanup()
        finally:
            _subreaper(False)
            _remove_test_parents()


def _remove_test_parents() -> None:
    for base in cgroupfs.parent_dirs(PARENT):
        cgroupfs.remove_group(base, timeout=0.2)  # busy when another run uses it: fine


def paths_of(group: JobGroup) -> list[Path]:
    return [Path(p) for p in group.record()["paths"]]


def python(helper: str, *args: str) -> list[str]:
    return [sys.executable, str(HELPERS / helper), *args]


# ---------------------------------------------------------------- the table


def test_probe_is_honest(backend_name: str) -> None:
    found = load(backend_name).probe()
    assert found.backend == backend_name
    if found.available:
        assert found.kernel
        assert found.enforces["memory"].startswith("kernel: ")
        assert found.enforces["pids"] == "kernel: pids.max"
    else:
        assert found.reason and found.fix, found


READ_BACK = {  # what each backend writes for --memory 64M --pids 7 (swap 0 on top of memory)
    "cgroup1": (
        [
            ("memory.limit_in_bytes", 64 * MB),
            ("pids.max", 7),
            ("memory.memsw.limit_in_bytes", 64 * MB),
        ],
        "kernel: memory.limit_in_bytes",
    ),
    "cgroup2": (
        [
            ("memory.max", 64 * MB),
            ("pids.max", 7),
            ("memory.oom.group", 1),
            ("memory.swap.max", 0),
        ],
        "kernel: memory.max",
    ),
}


def test_limits_are_written_and_read_back(jobs: Jobs, backend_name: str) -> None:
    group, _ = jobs.start(["sleep", "30"], Limits(memory=64 * MB, pids=7))
    files, enforced = READ_BACK[backend_name]
    for name, expected in files:
        found = [path / name for path in paths_of(group) if (path / name).exists()]
        optional = name.startswith(("memory.memsw", "memory.swap"))  # swap accounting may be off
        assert found or optional, f"no {name} in {paths_of(group)}"
        assert all(cgroupfs.read_int(path) == expected for path in found), (name, found)
    assert group.enforced()["memory"] == enforced


def test_cgroup2_on_a_hybrid_host_points_to_cgroup1() -> None:
    mounts = cgroupfs.find_mounts()
    if mounts.v2 is None or "memory" not in mounts.v1:
        pytest.skip("not a hybrid host (memory is not on cgroup v1)")
    found = cgroup2.BACKEND().probe()
    assert not found.available
    assert "bound to cgroup v1" in found.reason and "memory" in found.reason
    assert found.fix is not None and "--backend cgroup1" in found.fix


def test_memory_hog_is_oom_killed(jobs: Jobs) -> None:
    limit = 100 * MB
    group, pid = jobs.start(
        python("hog.py", "10", "0.02", "--max", "1000", "--quiet"), Limits(limit)
    )
    assert "kernel" in group.enforced()["memory"]
    breach = jobs.watch(group, timeout=60)
    verdict = group.termination()
    assert verdict is not None and verdict.reason is TerminationReason.MEMORY, (breach, verdict)
    assert "oom_kill" in verdict.detail
    usage = group.usage()
    # memory.peak may pass memory.max by a few pages: the kernel force-charges what a task
    # being OOM-killed still allocates on its way out (mm/memcontrol.c, try_charge "force")
    assert usage.peak_memory is not None and 50 * MB < usage.peak_memory <= limit + FORCED, usage
    assert pid not in jobs.children  # reaped: it died (SIGKILL by the OOM killer)
    paths = paths_of(group)
    group.close()
    assert not any(path.exists() for path in paths)


def test_fork_loop_hits_pids_limit(jobs: Jobs) -> None:
    argv = python("forkloop.py", "400", "--sleep", "20", "--attempts", "500")
    group, _ = jobs.start(argv, Limits(pids=20))
    assert group.enforced()["pids"] == "kernel: pids.max"
    breach = jobs.watch(group, timeout=60)
    assert breach is not None and breach.reason is TerminationReason.PIDS, breach
    verdict = group.termination()
    assert verdict is not None and verdict.reason is TerminationReason.PIDS
    usage = group.usage()
    assert usage.peak_pids is not None and 1 < usage.peak_pids <= 20, usage


def test_double_forked_daemon_is_killed_and_groups_removed(
    jobs: Jobs, backend_name: str, tmp_path: Path
) -> None:
    pidfile = tmp_path / "daemon.pid"
    group, pid = jobs.start(
        python("daemonize.py", "--sleep", "60", "--pidfile", str(pidfile)), Limits()
    )
    wait_until(pidfile.exists, 20)
    wait_until(lambda: (reap(jobs.children), pid not in jobs.children)[1], 20)
    daemon = int(pidfile.read_text())
    assert daemon in group.pids() and not group.is_empty()
    jobs.children.add(daemon)
    paths = paths_of(group)
    jobs.finish(group)
    assert not alive(daemon)
    assert not any(path.exists() for path in paths)
    if backend_name == "cgroup1":  # its v2 tracking group must have taken part, and gone
        tracking = cgroupfs.find_mounts().v2
        if tracking is None or not any(path.is_relative_to(tracking) for path in paths):
            require("cgroup2-tracking", False, "the v2 tree is not mounted or not writable")


def _orphan(jobs: Jobs, backend_name: str, tmp_path: Path) -> dict[str, Any]:
    """A fake supervisor starts a sleeper in a group, then dies by SIGKILL."""
    record_file = tmp_path / "record.json"
    argv = python("orphan_job.py", backend_name, str(record_file), "--", "sleep", "60")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    fake = subprocess.Popen(argv, env=env)
    try:
        wait_until(record_file.exists, 30)
    finally:
        fake.send_signal(signal.SIGKILL)
        fake.wait(timeout=10)
    data: dict[str, Any] = json.loads(record_file.read_text())
    jobs.children.add(data["pid"])  # orphaned sleeper: we are its subreaper now
    assert alive(data["pid"])
    return data


def test_reap_kills_and_removes_a_dead_supervisors_groups(
    jobs: Jobs, backend_name: str, tmp_path: Path
) -> None:
    data = _orphan(jobs, backend_name, tmp_path)
    paths = [Path(p) for p in data["record"]["paths"]]
    assert all(path.is_dir() for path in paths)
    lines = jobs.backend.reap(data["record"])
    assert any(str(data["pid"]) in line for line in lines), lines
    wait_until(lambda: (reap(jobs.children), not alive(data["pid"]))[1], 10)
    assert not any(path.exists() for path in paths)


def test_reap_orphans_spares_live_jobs(jobs: Jobs, backend_name: str, tmp_path: Path) -> None:
    live, live_pid = jobs.start(["sleep", "60"], Limits(pids=10))
    data = _orphan(jobs, backend_name, tmp_path)
    assert jobs.backend.reap(live.record()) == []  # its supervisor (this test) is alive
    lines = cgroupfs.reap_orphans(PARENT)
    assert any(data["job_id"] in line for line in lines), lines
    assert not any(live.record()["job_id"] in line for line in lines), lines
    wait_until(lambda: (reap(jobs.children), not alive(data["pid"]))[1], 10)
    assert not any(Path(p).exists() for p in data["record"]["paths"])
    assert alive(live_pid) and all(path.is_dir() for path in paths_of(live))
