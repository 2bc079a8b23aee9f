"""cgroup2 backend on the real kernel: pure cgroup v2 with memory and pids (the test VM).

Needs root (or a delegated subtree) and memory+pids on the v2 tree; on hybrid hosts
(memory and pids on cgroup v1) every kernel case is a skip with the probe's reason, or
a failure when ``CGSEQ_TEST_REQUIRE`` names cgroup2. The shared cases live in
``cgroup_cases``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cgroup_cases import (
    MB,
    Jobs,
    backend,
    case_daemon_is_killed_and_group_removed,
    case_fork_loop_hits_pids_limit,
    case_memory_hog_is_oom_killed,
    case_probe_is_honest,
    case_reap_kills_and_removes_record,
    case_reap_orphans_spares_live_jobs,
    jobs,
)

from cgseq.backends import cgroup2, cgroupfs
from cgseq.model import Limits

__all__ = ["backend", "jobs"]  # fixtures used by the cases

pytestmark = [pytest.mark.kernel, pytest.mark.vm]


@pytest.fixture
def backend_name() -> str:
    return "cgroup2"


@pytest.mark.timeout(30)
def test_probe_is_honest() -> None:
    case_probe_is_honest("cgroup2")


@pytest.mark.timeout(30)
def test_probe_on_a_hybrid_host_points_to_cgroup1() -> None:
    mounts = cgroupfs.find_mounts()
    if mounts.v2 is None or "memory" not in mounts.v1:
        pytest.skip("not a hybrid host (memory is not on cgroup v1)")
    found = cgroup2.BACKEND().probe()
    assert not found.available
    assert "bound to cgroup v1" in found.reason and "memory" in found.reason
    assert found.fix is not None and "--backend cgroup1" in found.fix


@pytest.mark.timeout(60)
def test_limits_are_written_and_read_back(jobs: Jobs) -> None:
    group, _ = jobs.start(["sleep", "30"], Limits(memory=64 * MB, pids=7))
    path = Path(group.record()["paths"][0])
    assert cgroupfs.read_int(path / "memory.max") == 64 * MB
    assert cgroupfs.read_int(path / "pids.max") == 7
    assert cgroupfs.read(path / "memory.oom.group") == "1"
    if (path / "memory.swap.max").exists():  # swap defaults to 0 on top of memory
        assert cgroupfs.read_int(path / "memory.swap.max") == 0
    assert group.enforced()["memory"] == "kernel: memory.max"


@pytest.mark.timeout(300)
def test_memory_hog_is_oom_killed(jobs: Jobs) -> None:
    case_memory_hog_is_oom_killed(jobs)


@pytest.mark.timeout(300)
def test_fork_loop_hits_pids_limit(jobs: Jobs) -> None:
    case_fork_loop_hits_pids_limit(jobs)


@pytest.mark.timeout(300)
def test_double_forked_daemon_is_killed_and_group_removed(jobs: Jobs, tmp_path: Path) -> None:
    case_daemon_is_killed_and_group_removed(jobs, tmp_path)


@pytest.mark.timeout(300)
def test_reap_kills_and_removes_a_dead_supervisors_group(jobs: Jobs, tmp_path: Path) -> None:
    case_reap_kills_and_removes_record(jobs, "cgroup2", tmp_path)


@pytest.mark.timeout(300)
def test_reap_orphans_spares_live_jobs(jobs: Jobs, tmp_path: Path) -> None:
    case_reap_orphans_spares_live_jobs(jobs, "cgroup2", tmp_path)
