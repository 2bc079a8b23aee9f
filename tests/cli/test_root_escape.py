"""A root job cannot write itself out of its cgroup where a cgroup namespace prevents it.

The job's first process enters a new cgroup namespace rooted at its v2 group before it
execs (Linux >= 4.6). With the v2 tree mounted ``nsdelegate`` (Linux >= 4.13, systemd's
default) the kernel then refuses to move it out of that group (ENOENT) or to let it
raise its own limits (EPERM). cgroup v1 hierarchies are not confined: doctor says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_support import cgseq_env, parse_result

from cgseq.backends import cgroupfs
from tests.conftest import require

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(90)]

MOUNTS = cgroupfs.find_mounts()
V2 = MOUNTS.v2
ROOT = os.geteuid() == 0
CGROUP1 = ROOT and "memory" in MOUNTS.v1 and V2 is not None  # cgroup1 + v2 tracking group
REPORT_CGROUP = (
    "import os, sys\n"
    "line = next(l for l in open('/proc/self/cgroup') if l.startswith('0::'))\n"
    "print('v2', line.strip(), 'ns', os.readlink('/proc/self/ns/cgroup'), flush=True)\n"
    "sys.exit(3)\n"
)


def run(
    project: Path, *args: str, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "cgseq", *args],
        cwd=project,
        env=cgseq_env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def require_cgroup1_tracking() -> None:
    require("cgroup1", CGROUP1, "root, the v1 memory controller and a v2 tree for tracking")


def test_a_root_job_runs_in_a_cgroup_namespace_rooted_at_its_group(project: Path) -> None:
    require_cgroup1_tracking()
    done = run(project, "run", "--backend", "cgroup1", "--", sys.executable, "-c", REPORT_CGROUP)
    assert done.returncode == 3, done.stderr
    _, v2_line, _, namespace = done.stdout.split()
    assert namespace != os.readlink("/proc/self/ns/cgroup"), "the job shares cgseq's namespace"
    assert v2_line == "0::/", f"the namespace is not rooted at the job's group: {v2_line}"
    assert "warning" not in done.stderr


def test_a_refused_cgroup_namespace_is_one_warning_and_the_job_runs(project: Path) -> None:
    """Root without CAP_SYS_ADMIN (a container's root): unshare(2) fails with EPERM."""
    require_cgroup1_tracking()
    setpriv = shutil.which("setpriv")
    require("setpriv", setpriv is not None, "util-linux setpriv drops CAP_SYS_ADMIN")
    assert setpriv is not None
    no_sys_admin = (setpriv, "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin")
    argv = ("run", "--backend", "cgroup1", "--", sys.executable, "-c", REPORT_CGROUP)
    done = run(project, *argv, prefix=no_sys_admin)
    assert done.returncode == 3, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "cgroup namespace" in line]
    assert warnings == [
        "cgseq: warning: could not give the job its own cgroup namespace (EPERM: Operation "
        "not permitted): a root job can move itself out of its cgroup"
    ], done.stderr
    assert done.stdout.split()[1] != "0::/"


def backends() -> list[Any]:
    return [
        pytest.param("cgroup1", id="cgroup1"),
        pytest.param("cgroup2", id="cgroup2", marks=pytest.mark.vm),
        pytest.param("systemd", id="systemd", marks=pytest.mark.vm),
    ]


@pytest.mark.parametrize("backend", backends())
def test_a_root_job_cannot_write_itself_out_of_its_v2_group(project: Path, backend: str) -> None:
    """The job moves itself into the v2 root and then allocates past its 64M limit."""
    require("root", ROOT, "a root job")
    if backend == "cgroup1":
        require_cgroup1_tracking()
    require("nsdelegate", cgroupfs.nsdelegate(), f"the v2 tree at {V2} mounted with nsdelegate")
    escape = (
        "import os, time\n"
        f"procs = {str(V2)!r} + '/cgroup.procs'\n"
        "try:\n"
        "    os.write(os.open(procs, os.O_WRONLY), b'0')\n"  # '0': the writing process
        "    print('escaped', flush=True)\n"
        "except OSError as exc:\n"
        "    print('refused', exc.errno, flush=True)\n"
        "chunks = [bytearray(8 << 20) for _ in range(32)]\n"  # 256M, past the 64M limit
        "time.sleep(0.2)\n"
    )
    argv = ("--backend", backend, "--memory", "64M", "--json", "--", sys.executable, "-c", escape)
    done = run(project, "run", *argv)
    assert "refused" in done.stdout, done.stdout + done.stderr
    if backend != "cgroup1":  # cgroup1: the v1 memory group would still hold it anyway
        assert done.returncode == 137, done.stderr
        assert parse_result(done.stdout)["reason"] == "memory"


def test_doctor_says_what_root_jobs_can_escape(project: Path) -> None:
    require_cgroup1_tracking()
    done = run(project, "doctor", "--no-canary")
    lines = [line.strip() for line in done.stdout.splitlines()]
    cgroup1 = lines.index(next(line for line in lines if line.startswith("[ok ] cgroup1")))
    block = lines[cgroup1 + 1 : cgroup1 + 8]
    escape = next((line for line in block if line.startswith("root jobs:")), None)
    assert escape is not None, done.stdout
    assert "move itself out of its v1 memory/pids groups" in escape
