"""cgroup1 backend on the real kernel (hybrid hosts: memory, pids, freezer on cgroup v1).

Needs root and the v1 controllers; a skip with the reason elsewhere, a failure when
``CGSEQ_TEST_REQUIRE`` names cgroup1 or root. The shared cases live in ``cgroup_cases``.
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
    require,
)

from cgseq.backends import cgroupfs
from cgseq.model import Limits

__all__ = ["backend", "jobs"]  # fixtures used by the cases

pytestmark = pytest.mark.kernel


@pytest.fixture
def backend_name() -> str:
    return "cgroup1"


@pytest.mark.timeout(30)
def test_probe_is_honest() -> None:
    case_probe_is_honest("cgroup1")


@pytest.mark.timeout(30)
def test_limits_are_written_and_read_back(jobs: Jobs) -> None:
    group, _ = jobs.start(["sleep", "30"], Limits(memory=64 * MB, pids=7))
    memory, pids = (Path(p) for p in group.record()["paths"][:2])
    assert cgroupfs.read_int(memory / "memory.limit_in_bytes") == 64 * MB
    assert cgroupfs.read_int(pids / "pids.max") == 7
    if (memory / "memory.memsw.limit_in_bytes").exists():  # swap 0: memsw = memory
        assert cgroupfs.read_int(memory / "memory.memsw.limit_in_bytes") == 64 * MB
    assert group.enforced()["memory"] == "kernel: memory.limit_in_bytes"


@pytest.mark.timeout(90)
def test_memory_hog_is_oom_killed(jobs: Jobs) -> None:
    case_memory_hog_is_oom_killed(jobs)


@pytest.mark.timeout(90)
def test_fork_loop_hits_pids_limit(jobs: Jobs) -> None:
    case_fork_loop_hits_pids_limit(jobs)


@pytest.mark.timeout(60)
def test_double_forked_daemon_is_killed_and_groups_removed(jobs: Jobs, tmp_path: Path) -> None:
    paths = case_daemon_is_killed_and_group_removed(jobs, tmp_path)
    tracking = cgroupfs.find_mounts().v2
    if tracking is not None and any(path.is_relative_to(tracking) for path in paths):
        return  # the v2 tracking tree took part and its group is gone too
    require("cgroup2-tracking", False, "the v2 tree is not mounted or not writable")


@pytest.mark.timeout(60)
def test_reap_kills_and_removes_a_dead_supervisors_groups(jobs: Jobs, tmp_path: Path) -> None:
    case_reap_kills_and_removes_record(jobs, "cgroup1", tmp_path)


@pytest.mark.timeout(60)
def test_reap_orphans_spares_live_jobs(jobs: Jobs, tmp_path: Path) -> None:
    case_reap_orphans_spares_live_jobs(jobs, "cgroup1", tmp_path)
