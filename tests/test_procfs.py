"""The one /proc reader: its parsers on plain text, its readers against real processes.

The parsers get the awkward cases the kernel really writes: a comm with spaces and parens,
mount points with octal escapes and optional fields, cgroup v2 and hybrid v1 lines. The
readers are checked against a child this test started, whose facts it knows independently.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cgseq import procfs
from cgseq.backends import cgroupfs
from tests.conftest import require

LINUX = sys.platform.startswith("linux")


def stat_line(comm: str, state: str = "S") -> str:
    """A ``/proc/<pid>/stat`` line as Linux writes it (52 fields), with known values."""
    fields = [str(n) for n in range(3, 53)]  # field n holds n unless set below
    fields[0] = state  # field 3
    fields[6] = str(procfs.PF_EXITING | 0x400000)  # field 9: flags
    return f"4242 ({comm}) " + " ".join(fields) + "\n"


# ---------------------------------------------------------------- stat


@pytest.mark.parametrize("comm", ["sleep", "a b", "x) S 1 2 (y", "((", "))", ") ) )", ""])
def test_a_stat_line_parses_whatever_the_comm_holds(comm: str) -> None:
    found = procfs.parse_stat(stat_line(comm))
    assert found.state == "S"
    assert (found.ppid, found.pgrp) == (4, 5)
    assert found.flags & procfs.PF_EXITING
    assert (found.num_threads, found.starttime, found.rss) == (20, 22, 24)
    assert not found.dead


@pytest.mark.parametrize("state", ["Z", "X"])
def test_zombie_and_dead_states_are_dead(state: str) -> None:
    assert procfs.parse_stat(stat_line("z", state)).dead


def test_statm_gives_resident_and_shared_pages() -> None:
    assert procfs.parse_statm("1000 300 120 10 0 200 0\n") == (300, 120)


def test_children_files_list_pids() -> None:
    assert procfs.parse_children("12 13 4000 \n") == [12, 13, 4000]
    assert procfs.parse_children("") == []


# ---------------------------------------------------------------- cgroup lines


def test_a_v2_line_names_the_unified_group() -> None:
    assert procfs.parse_cgroup("0::/user.slice/cgseq/12-ab-1\n") == {
        "": "/user.slice/cgseq/12-ab-1"
    }


def test_hybrid_lines_name_each_v1_controller_and_the_v2_group() -> None:
    text = (
        "12:pids:/user.slice\n"
        "5:cpu,cpuacct:/\n"
        "4:memory:/cgseq/12-ab-1\n"
        "1:name=systemd:/user.slice/session-2.scope\n"
        "0::/user.slice/session-2.scope\n"
    )
    found = procfs.parse_cgroup(text)
    assert found["memory"] == "/cgseq/12-ab-1"
    assert found["pids"] == "/user.slice"
    assert found["cpu"] == found["cpuacct"] == "/"
    assert found["name=systemd"] == "/user.slice/session-2.scope"
    assert found[""] == "/user.slice/session-2.scope"


def test_a_v1_only_host_has_no_v2_group_and_paths_may_hold_colons() -> None:
    found = procfs.parse_cgroup("3:memory:/odd:name\n2:freezer:/\n")
    assert "" not in found
    assert found["memory"] == "/odd:name"


def test_own_v2_group_matches_the_kernel(tmp_path: Path) -> None:
    require("linux", LINUX, "/proc/self/cgroup")
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    v2 = [line[3:] for line in lines if line.startswith("0::")]
    assert procfs.v2_cgroup() == (v2[0] if v2 else None)
    mounts = cgroupfs.find_mounts()
    if mounts.v2 is not None and v2:
        assert cgroupfs.own_v2_cgroup(mounts) == mounts.v2 / v2[0].lstrip("/")
        assert cgroupfs.cgroup_of(os.getpid(), mounts.v2) == cgroupfs.own_v2_cgroup(mounts)


# ---------------------------------------------------------------- mountinfo

MOUNTINFO = (
    "24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "30 24 0:26 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n"
    "31 24 0:27 / /sys/fs/cgroup/memory rw shared:10 master:3 - cgroup cgroup rw,memory\n"
    "32 24 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "33 24 0:29 / /run/my\\040shm\\011x\\134y rw - tmpfs tmpfs rw,size=1024k\n"
    "garbage line\n"
)


def test_mountinfo_lines_give_device_point_type_and_options() -> None:
    found = procfs.parse_mountinfo(MOUNTINFO)
    assert [m.fstype for m in found] == ["ext4", "cgroup2", "cgroup", "cgroup", "tmpfs"]
    assert found[1] == procfs.Mount(
        "0:26", "/sys/fs/cgroup", "cgroup2", "rw,nsdelegate,memory_recursiveprot"
    )
    assert found[2].point == "/sys/fs/cgroup/memory"  # optional fields skipped
    assert found[4].point == "/run/my shm\tx\\y"  # octal escapes undone


def test_cgroup_mounts_and_nsdelegate_from_mountinfo() -> None:
    mounts = cgroupfs.find_mounts(MOUNTINFO)
    assert mounts.v2 == Path("/sys/fs/cgroup")
    assert mounts.v1 == {"memory": Path("/sys/fs/cgroup/memory")}
    assert cgroupfs.nsdelegate(MOUNTINFO)
    assert not cgroupfs.nsdelegate(MOUNTINFO.replace("nsdelegate,", ""))
    assert cgroupfs.find_mounts("") == cgroupfs.Mounts()


def test_this_namespace_has_a_root_mount() -> None:
    require("linux", LINUX, "/proc/self/mountinfo")
    assert "/" in {mount.point for mount in procfs.mounts()}


# ---------------------------------------------------------------- real processes


@pytest.fixture
def child(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A sleeping child whose comm has spaces and parens, with a job id in its environment."""
    odd = tmp_path / "a) b (c"
    odd.symlink_to("/bin/sleep")
    env = {**os.environ, procfs.JOB_ENV: "12-ab-1"}
    proc = subprocess.Popen([str(odd), "60"], env=env)
    yield proc
    proc.kill()
    proc.wait(10)


def test_a_child_is_seen_as_it_is(child: subprocess.Popen[bytes]) -> None:
    require("linux", LINUX, "/proc")
    found = procfs.stat(child.pid)
    assert found is not None
    assert found.ppid == os.getpid() == procfs.parent(child.pid)
    assert found.pgrp == os.getpgid(child.pid)
    assert child.pid in procfs.children(os.getpid())
    assert child.pid in procfs.pids()
    assert procfs.running(child.pid)
    assert procfs.liveness(child.pid) == (True, found.starttime)
    assert procfs.start(child.pid) == found.starttime
    age = procfs.age(child.pid)
    assert age is not None and 0 <= age < 60
    assert procfs.name(child.pid).startswith("a) b (c")


def test_the_job_marker_is_found_in_the_environment(child: subprocess.Popen[bytes]) -> None:
    assert procfs.env_marked(child.pid, "12-ab-1")
    assert not procfs.env_marked(child.pid, "12-ab-2")
    assert not procfs.env_marked(os.getpid(), "12-ab-1")


def test_a_zombie_does_not_run_and_a_reaped_pid_is_gone(child: subprocess.Popen[bytes]) -> None:
    child.kill()
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, still a zombie
    assert not procfs.running(child.pid)
    assert procfs.liveness(child.pid).running is False
    if LINUX:
        found = procfs.stat(child.pid)
        assert found is not None and found.dead
    child.wait(10)
    assert procfs.stat(child.pid) is None
    assert procfs.liveness(child.pid) == (False, None)
    assert procfs.parent(child.pid) is None
    assert procfs.name(child.pid) == "?"


def test_psutil_agrees_where_there_is_no_proc(child: subprocess.Popen[bytes]) -> None:
    """The fallbacks are plain functions: check them against /proc on Linux."""
    seen = procfs.liveness_by_psutil(child.pid)
    assert seen.running is True and seen.start == procfs.start_by_psutil(child.pid)
    assert procfs.parent_by_psutil(child.pid) == os.getpid()
    assert procfs.environ_by_psutil(child.pid).get(procfs.JOB_ENV) == "12-ab-1"
    assert child.pid in procfs.children_by_psutil(os.getpid())
    assert procfs.running_by_psutil(child.pid)
