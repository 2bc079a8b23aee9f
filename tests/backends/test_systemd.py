"""The systemd backend against a real systemd (PID 1): in the test VM, as root and as tester.

Each test drives the backend the way the supervisor does — spawn_held → place → release —
and reaps its own child with ``os.waitpid``. As root the scopes belong to the system
manager (capability ``systemd``), as any other user to the user's manager
(``systemd-user``). Elsewhere these tests skip with the reason.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from cgseq.backends import systemd
from cgseq.backends.base import Availability
from cgseq.jobids import new_job_id
from cgseq.model import Breach, JobSpec, Limits, TerminationReason, Usage
from cgseq.supervise.spawn import spawn_held
from tests.conftest import require
from tests.support import pid_running as _alive
from tests.support import wait_until as _wait_until

pytestmark = [pytest.mark.kernel, pytest.mark.vm, pytest.mark.timeout(600)]


HELPERS = Path(__file__).resolve().parents[1] / "helpers"
MB = 1 << 20
ROOT = os.geteuid() == 0
CAPABILITY = "systemd" if ROOT else "systemd-user"
TESTER_UID = 1000  # the VM's unprivileged user (tests/vm/build-vm.sh)


@pytest.fixture
def backend() -> systemd.SystemdBackend:
    found: Availability = systemd.BACKEND().probe()
    require(CAPABILITY, found.available, f"{found.reason} ({found.fix})")
    return systemd.BACKEND()


@dataclass
class Outcome:
    status: int  # os.waitpid status of the first process
    breach: Breach | None
    usage: Usage
    unit: str
    cgroup: Path


def run_job(
    backend: systemd.SystemdBackend, argv: list[str], limits: Limits, timeout: float = 120.0
) -> Outcome:
    """Supervise one job like cgseq does: place before exec, wait, kill leftovers, close."""
    group = backend.open_group(JobSpec(tuple(argv), limits), new_job_id())
    child = spawn_held(argv)
    try:
        group.place(child.pid)
    except BaseException:
        child.abandon()
        os.waitpid(child.pid, 0)
        group.close()
        raise
    cgroup = Path(group.record()["cgroup"])
    child.release()
    try:
        status = _wait_child(child.pid, group, timeout)
        if not group.is_empty():  # leftovers (daemons): the supervisor's default is kill
            group.kill()
        _wait_until(group.is_empty, 30, "the scope to empty")
        return Outcome(status, group.termination(), group.usage(), group.unit, cgroup)
    finally:
        group.close()


def _wait_child(pid: int, group: systemd.ScopeGroup, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        group.sample()
        if time.monotonic() > deadline:
            group.kill()
            os.waitpid(pid, 0)
            pytest.fail(f"job {pid} still running after {timeout}s")
        time.sleep(group.poll_interval or 0.1)


def helper(name: str, *args: str) -> list[str]:
    return [sys.executable, str(HELPERS / name), *args]


def systemctl(*args: str) -> subprocess.CompletedProcess[str]:
    scope = [] if ROOT else ["--user"]
    return subprocess.run(
        ["systemctl", *scope, *args], capture_output=True, text=True, timeout=60, check=False
    )


def loaded_cgseq_units(state: str | None = None) -> list[str]:
    flags = ["--all", "--no-legend", "--plain", "--full"] + ([f"--state={state}"] if state else [])
    out = systemctl("list-units", *flags, "cgseq-*.scope").stdout
    # a failed unit's line starts with a "●" column: take the first cgseq-* word
    names = (
        next((w for w in line.split() if w.startswith("cgseq-")), "") for line in out.splitlines()
    )
    return [name for name in names if name]


# ---------------------------------------------------------------- the behaviour table


def test_probe_names_the_manager(backend: systemd.SystemdBackend) -> None:
    found = backend.probe()
    assert found.available and found.kernel
    assert ("system manager" if ROOT else "user manager") in found.reason
    assert {"memory", "pids", "tracking"} <= set(found.enforces)


def test_child_is_in_the_scope_before_it_runs(backend: systemd.SystemdBackend) -> None:
    limits = Limits(memory=100 * MB, pids=20)
    group = backend.open_group(JobSpec(("true",), limits), new_job_id())
    child = spawn_held(["cat", "/proc/self/cgroup"])
    try:
        group.place(child.pid)
        where = Path(f"/proc/{child.pid}/cgroup").read_text()
        assert where.strip().endswith(f"/{systemd.SLICE}/{group.unit}")
        cgroup = Path(group.record()["cgroup"])
        assert int((cgroup / "memory.max").read_text()) == 100 * MB
        assert (cgroup / "pids.max").read_text().strip() == "20"
        assert (cgroup / "memory.swap.max").read_text().strip() == "0"
        assert "MemoryMax" in group.enforced()["memory"]
    finally:
        child.abandon()
        os.waitpid(child.pid, 0)
        _wait_until(group.is_empty, 30, "the scope to empty")
        group.close()


def test_memory_hog_is_killed_with_reason_memory(backend: systemd.SystemdBackend) -> None:
    outcome = run_job(
        backend, helper("hog.py", "10", "0.02", "--max", "600", "--quiet"), Limits(memory=100 * MB)
    )
    assert os.WIFSIGNALED(outcome.status) and os.WTERMSIG(outcome.status) == signal.SIGKILL
    assert outcome.breach is not None and outcome.breach.reason is TerminationReason.MEMORY
    peak = outcome.usage.peak_memory
    assert peak is not None and 50 * MB < peak <= 100 * MB, peak


def test_tasks_max_stops_a_fork_loop(backend: systemd.SystemdBackend, tmp_path: Path) -> None:
    log = tmp_path / "forkloop.log"
    outcome = run_job(
        backend,
        helper("forkloop.py", "200", "--sleep", "5", "--attempts", "100", "--log", str(log)),
        Limits(pids=20),
    )
    assert outcome.breach is not None and outcome.breach.reason is TerminationReason.PIDS
    started = int(log.read_text().split("started ")[1].split(",")[0])
    assert started < 20, log.read_text()
    assert outcome.usage.peak_pids is not None and outcome.usage.peak_pids <= 20


def test_double_forked_daemon_is_killed_and_scope_gone(
    backend: systemd.SystemdBackend, tmp_path: Path
) -> None:
    pidfile = tmp_path / "daemon.pid"
    outcome = run_job(
        backend,
        helper("daemonize.py", "--sleep", "300", "--pidfile", str(pidfile)),
        Limits(memory=200 * MB),
    )
    assert os.WIFEXITED(outcome.status) and os.WEXITSTATUS(outcome.status) == 0
    daemon = int(pidfile.read_text())
    _wait_until(lambda: not _alive(daemon), 30, f"daemon {daemon} to die")
    _wait_until(lambda: not outcome.cgroup.exists(), 30, "the scope's cgroup to go")
    _wait_until(lambda: outcome.unit not in loaded_cgseq_units(), 30, "the unit to unload")
    assert outcome.breach is None


def test_no_failed_units_remain_after_20_runs(backend: systemd.SystemdBackend) -> None:
    kinds = [["true"], ["false"], ["sh", "-c", "kill -9 $$"]]
    for i in range(18):
        run_job(backend, kinds[i % len(kinds)], Limits(memory=64 * MB, pids=50))
    for _ in range(2):  # OOM kills leave a failed scope unless cgseq resets it
        outcome = run_job(
            backend, helper("hog.py", "16", "0", "--max", "400", "--quiet"), Limits(memory=48 * MB)
        )
        assert outcome.breach is not None and outcome.breach.reason is TerminationReason.MEMORY
    assert loaded_cgseq_units("failed") == []
    _wait_until(lambda: not loaded_cgseq_units(), 30, f"scopes to unload: {loaded_cgseq_units()}")


def test_reap_kills_the_scope_of_a_dead_supervisor(
    backend: systemd.SystemdBackend, tmp_path: Path
) -> None:
    record_file = tmp_path / "record.json"
    supervisor = subprocess.Popen(
        [sys.executable, "-c", _ORPHANING_SUPERVISOR, str(record_file)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        _wait_until(record_file.exists, 120, "the supervisor to place its job")
        record = json.loads(record_file.read_text())
    finally:
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait(timeout=30)
    assert record["unit"] in loaded_cgseq_units()  # the job outlived its supervisor
    lines = backend.reap(record)
    assert len(lines) == 1 and record["unit"] in lines[0]
    _wait_until(lambda: not _alive(record["pid"]), 30, "the orphaned job to die")
    _wait_until(lambda: record["unit"] not in loaded_cgseq_units(), 30, "the unit to unload")
    assert backend.reap(record) == []  # idempotent: nothing left to touch


_ORPHANING_SUPERVISOR = """
import json, sys, time
from cgseq.backends import systemd
from cgseq.jobids import new_job_id
from cgseq.model import JobSpec, Limits
from cgseq.supervise.spawn import spawn_held
group = systemd.BACKEND().open_group(JobSpec(("sleep", "300"), Limits(pids=10)), new_job_id())
child = spawn_held(["sleep", "300"])
group.place(child.pid)
child.release()
record = dict(group.record(), pid=child.pid)
open(sys.argv[1] + ".tmp", "w").write(json.dumps(record))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(300)
"""


def test_detached_scope_runs_on_and_is_collected_when_empty(
    backend: systemd.SystemdBackend,
) -> None:
    group = backend.open_group(JobSpec(("sleep", "3"), Limits(pids=10)), new_job_id())
    child = spawn_held(["sleep", "3"])
    group.place(child.pid)
    child.release()
    group.detach()  # --leftovers keep: cgseq leaves, the job keeps its scope and limits
    assert group.unit in loaded_cgseq_units("active")
    os.waitpid(child.pid, 0)
    _wait_until(lambda: group.unit not in loaded_cgseq_units(), 60, "the kept scope to unload")


def test_reap_refuses_units_cgseq_did_not_create(backend: systemd.SystemdBackend) -> None:
    assert backend.reap({"unit": "dbus.service"}) == []
    assert backend.reap({"unit": "init.scope"}) == []


def test_nested_run_stays_in_one_scope(backend: systemd.SystemdBackend, tmp_path: Path) -> None:
    pytest.importorskip("cgseq.main")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    inner = f"{sys.executable} -m cgseq run -- cat /proc/self/cgroup"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cgseq",
            "run",
            "--backend",
            "systemd",
            "--memory",
            "200M",
            "--",
            "sh",
            "-c",
            f"cat /proc/self/cgroup; {inner}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    outer, nested = [line for line in proc.stdout.splitlines() if line.startswith("0::")]
    assert outer == nested
    if os.geteuid() == 0:  # a root job runs in a cgroup namespace rooted at its scope
        assert outer == "0::/"
    else:
        assert "/cgseq.slice/cgseq-" in outer


# ---------------------------------------------------------------- delegation is checked


@pytest.mark.timeout(900)
def test_user_manager_without_memory_delegation_is_detected(
    backend: systemd.SystemdBackend,
) -> None:
    """Root takes the memory controller away from tester's user manager; tester's cgseq sees it.

    On systemd 252 ``Delegate=pids`` alone is not enough: user-1000.slice keeps memory enabled
    for accounting and the user manager enables it below itself (its subtree_control is
    chowned to tester). ``DisableControllers=memory`` on the slice is what older or
    differently configured hosts look like: no memory in the manager's cgroup.controllers.
    """
    if not ROOT:
        pytest.skip("root's part: writes a drop-in for user-1000.slice (runs in the root pass)")
    require("systemd-user", _has_user_manager(), f"no user manager for uid {TESTER_UID}")
    dropin = Path(f"/run/systemd/system/user-{TESTER_UID}.slice.d/zz-cgseq-test.conf")
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text(
        "[Slice]\n# cgseq test: a user manager without memory\nDisableControllers=memory\n"
    )
    try:
        _restart_user_manager()
        report = _as_tester(_PROBE_AND_PLACE)
    finally:
        dropin.unlink()
        _restart_user_manager()
    assert report["probe"]["available"] is False, report
    assert "memory" in report["probe"]["reason"], report
    assert "Delegate" in report["probe"]["fix"] or "delegate" in report["probe"]["fix"]
    assert "memory.max" in report["place"] and "not in force" in report["place"], report
    assert report["enforced_pids"] is True  # pids still delegated: that limit works


def _has_user_manager() -> bool:
    return Path(f"/run/user/{TESTER_UID}/bus").exists()


def _restart_user_manager() -> None:
    for args in (["daemon-reload"], ["restart", f"user@{TESTER_UID}.service"]):
        subprocess.run(["systemctl", *args], check=True, timeout=120)
    _wait_until(_has_user_manager, 120, "the user manager's bus")


def _as_tester(code: str) -> dict[str, object]:
    """Run ``code`` as tester on its own user bus; it prints one JSON line (the report)."""
    runtime = f"/run/user/{TESTER_UID}"
    proc = subprocess.run(
        [
            "sudo",
            "-u",
            f"#{TESTER_UID}",
            "env",
            f"XDG_RUNTIME_DIR={runtime}",
            f"DBUS_SESSION_BUS_ADDRESS=unix:path={runtime}/bus",
            f"PYTHONPATH={Path(__file__).resolve().parents[2]}",
            "PYTHONDONTWRITEBYTECODE=1",
            sys.executable,
            "-c",
            code,
        ],
        check=False,
        timeout=300,
        cwd="/tmp",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


_PROBE_AND_PLACE = """
import json, os, sys
from cgseq.backends import systemd
from cgseq.errors import BackendUnavailable
from cgseq.jobids import new_job_id
from cgseq.model import JobSpec, Limits
from cgseq.supervise.spawn import spawn_held
found = systemd.BACKEND().probe()
report = {"probe": {"available": found.available, "reason": found.reason, "fix": found.fix}}
def try_place(limits):
    group = systemd.BACKEND().open_group(JobSpec(("true",), limits), new_job_id())
    child = spawn_held(["true"])
    try:
        group.place(child.pid)
        return None
    except BackendUnavailable as exc:
        return str(exc)
    finally:
        child.abandon()
        os.waitpid(child.pid, 0)
        group.close()
report["place"] = try_place(Limits(memory=100 << 20))
report["enforced_pids"] = try_place(Limits(pids=20)) is None
print(json.dumps(report))
"""
