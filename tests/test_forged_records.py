"""cgseq acts only on what it created, even when its state dir lies (issue 8, item 2).

A holder record (``<state dir>/slots/<slot>/holder.json``) is data that anyone able to write
the state dir can forge. Each test plants one in a real slot of the private state dir and
runs the real ``cgseq run`` (or ``cgseq doctor --clean``) that reads it: what the record
names must survive unless cgseq can verify it is a dead job of its own. Victims are
processes and cgroups this test created itself, killed and removed by pid and path at
teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cgseq import backends, jobids
from cgseq.backends import cgroupfs
from cgseq.project import slot_for
from tests.cli.cli_support import JOB_SCRIPT, cgseq_env, pid_running, wait_until
from tests.conftest import require
from tests.support import run_cgseq

PARENT = "cgseq-test-forged"  # this file's own cgroup parent, for every cgseq it runs
OUTSIDE = "cgseq-test-forged-outside"  # a group tree that is NOT cgseq's parent
V1_ROOT = Path("/sys/fs/cgroup")
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

pytestmark = pytest.mark.timeout(60)


# ---------------------------------------------------------------- plumbing


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Victims this test started: SIGKILLed by pid and waited for at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project as cgseq sees it: a directory with ``.git`` (found by path, git never runs)."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / ".git").mkdir()  # project_root stops here
    return root.resolve()


def env() -> dict[str, str]:
    return cgseq_env({cgroupfs.PARENT_ENV: PARENT})


def cgseq(project: Path, *args: str, timeout: float = 45) -> subprocess.CompletedProcess[str]:
    return run_cgseq(*args, cwd=project, env=env(), timeout=timeout)


def dead_job_id() -> str:
    """A genuine job id of a supervisor that has exited (made by cgseq's own code)."""
    code = "from cgseq import jobids; print(jobids.new_job_id())"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=30
    )
    job_id = done.stdout.strip()
    assert done.returncode == 0 and not jobids.supervisor_alive(job_id), done
    return job_id


def slot_dir(project: Path) -> Path:
    state = Path(os.environ["CGSEQ_STATE_DIR"])
    path = state / "slots" / slot_for(str(project), None).key
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def plant(
    project: Path, backend: str, record: dict[str, Any], holder: dict[str, Any] | None = None
) -> Path:
    """Write a forged holder.json into the project's slot, as ``Job._started`` would."""
    job_id = record.get("job_id")
    data = {
        "pid": 4_000_000,
        "job_pid": record.get("pgid"),
        "job_id": job_id,
        "argv": ["forged"],
        "cwd": str(project),
        "since": time.time(),
        "backend": backend,
        "record": record,
        "limits": {},
    } | (holder or {})
    path = slot_dir(project) / "holder.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    return path


def victim(
    procs: list[subprocess.Popen[bytes]],
    *prefix: str,
    marker: str | None = None,
    script: str = "",
) -> subprocess.Popen[bytes]:
    """A ``sleep`` leading a new session and process group of its own, ours to kill.

    ``script`` runs first in that group (``sh -c '<script> exec sleep 60'``).
    """
    environ = dict(os.environ) | ({MARKER: marker} if marker else {})
    command = ["sh", "-c", f"{script} exec sleep 60"] if script else ["sleep", "60"]
    proc = subprocess.Popen(
        [*prefix, *command], env=environ, start_new_session=True, stdin=subprocess.DEVNULL
    )
    procs.append(proc)
    wait_until(lambda: _comm(proc.pid) == "sleep", 10, "the victim to exec sleep")
    return proc


MARKER = "CGSEQ_JOB_ID"  # api.py _env: the job's marker in its environment


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()  # Linux >= 3.5
    return [int(child) for child in text.split()]


def poll_record(job_id: str, pgid: object, started: object) -> dict[str, Any]:
    return {"job_id": job_id, "started": started, "pgid": pgid}


def assert_ran_cleanly(done: subprocess.CompletedProcess[str], code: int = 0) -> None:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert len([line for line in done.stderr.splitlines() if "warning" in line]) <= 2, done.stderr


# ---------------------------------------------------------------- poll: process groups


def test_poll_record_naming_a_foreign_process_group_kills_nothing(project: Path, procs) -> None:
    """Same user, created after the record's start, pgid named: a pgid alone proves nothing."""
    started = time.time() - 1
    other = victim(procs)
    plant(project, "poll", poll_record(dead_job_id(), other.pid, started))
    done = cgseq(project, "run", "--", "true")
    assert_ran_cleanly(done)
    assert pid_running(other.pid), f"a process group cgseq never created was killed:\n{done.stderr}"
    assert not (slot_dir(project) / "holder.json").exists()


def test_poll_record_spares_another_users_process_even_with_the_marker(
    project: Path, procs
) -> None:
    require("root", os.geteuid() == 0, "the victim runs as nobody")
    started, job_id = time.time() - 1, dead_job_id()
    other = victim(procs, *NOBODY, marker=job_id)  # even its environment names the job
    plant(project, "poll", poll_record(job_id, other.pid, started))
    done = cgseq(project, "run", "--", "true")
    assert_ran_cleanly(done)
    assert pid_running(other.pid), f"another user's process was killed:\n{done.stderr}"


def test_poll_record_still_reaps_a_marked_dead_job_and_its_group(project: Path, procs) -> None:
    """The control: what cgseq can attribute (marker, or the marked job's group) still goes."""
    started, job_id = time.time() - 1, dead_job_id()
    leader = victim(procs, marker=job_id, script="env -i sleep 60 &")  # scrubbed, same group
    wait_until(lambda: [_comm(c) for c in children(leader.pid)] == ["sleep"], 10, "the child")
    (scrubbed,) = children(leader.pid)
    plant(project, "poll", poll_record(job_id, leader.pid, started))
    done = cgseq(project, "run", "--", "true")
    assert_ran_cleanly(done)
    assert "killed" in done.stderr and job_id in done.stderr, done.stderr
    assert leader.wait(10) == -signal.SIGKILL
    wait_until(lambda: not pid_running(scrubbed), 10, "the scrubbed member to be killed")


def test_doctor_clean_with_planted_poll_records_touches_nothing(project: Path, procs) -> None:
    started = time.time() - 1
    mine = victim(procs)
    plant(project, "poll", poll_record(dead_job_id(), mine.pid, started))
    done = cgseq(project, "doctor", "--clean", "--json", timeout=55)
    assert "Traceback" not in done.stderr and done.stdout.startswith("{"), done
    assert json.loads(done.stdout)["cleaned"] == [], done.stdout
    assert pid_running(mine.pid), f"doctor --clean killed a foreign group:\n{done.stderr}"


@pytest.mark.parametrize(
    "record",
    [
        {"pgid": "x"},
        {"started": "yesterday"},
        {"started": [1]},
        {"started": float("nan")},
        {"job_id": 5},
        {"pgid": True},
        {"pgid": 10**30},
        {"pgid": -1},
    ],
    ids=lambda r: repr(r),
)
def test_poll_record_of_wrong_types_is_not_touched_and_the_run_keeps_its_exit(
    project: Path, procs, record: dict[str, Any]
) -> None:
    started = time.time() - 1
    other = victim(procs)
    forged = poll_record(dead_job_id(), other.pid, started) | record
    plant(project, "poll", forged)
    done = cgseq(project, "run", "--", "sh", "-c", "exit 3")
    assert_ran_cleanly(done, 3)
    assert pid_running(other.pid), done.stderr


@pytest.mark.parametrize(
    "holder",
    [{"argv": 5}, {"argv": [1, None]}, {"record": 5}, {"backend": 5}, {"backend": "nope"}],
    ids=lambda r: repr(r),
)
def test_holder_of_wrong_types_is_not_touched_and_the_run_keeps_its_exit(
    project: Path, procs, holder: dict[str, Any]
) -> None:
    started = time.time() - 1
    other = victim(procs)
    plant(project, "poll", poll_record(dead_job_id(), other.pid, started), holder)
    done = cgseq(project, "run", "--", "sh", "-c", "exit 3")
    assert_ran_cleanly(done, 3)
    assert pid_running(other.pid), done.stderr


# ---------------------------------------------------------------- a live job of another slot


def require_backend(name: str) -> None:
    if name == "poll":
        return
    require("root", os.geteuid() == 0, "kernel backends as root")
    found = backends.load(name).probe()
    require(name, found.available, f"{found.reason} (fix: {found.fix})")


@pytest.mark.parametrize(
    "backend",
    [
        "poll",
        pytest.param("cgroup1", marks=pytest.mark.kernel),
        pytest.param("cgroup2", marks=pytest.mark.vm),
        pytest.param("systemd", marks=pytest.mark.vm),
    ],
)
def test_record_of_a_live_job_in_another_slot_is_not_touched(
    tmp_path: Path, project: Path, procs, backend: str
) -> None:
    """A real running job's own record, copied into another slot: its supervisor is alive."""
    require_backend(backend)
    ready, release = tmp_path / "ready", tmp_path / "release"
    live_project = tmp_path / "live"
    hold_job = [sys.executable, str(JOB_SCRIPT), "hold", str(ready), str(release)]
    (live_project / ".git").mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-m", "cgseq", "run", "--backend", backend, "--", *hold_job],
        cwd=live_project,
        env=env(),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    procs.append(holder)
    wait_until(lambda: ready.exists() or holder.poll() is not None, 20, "the live job")
    assert ready.exists(), f"the live job did not start: {holder.communicate(timeout=10)[1]!r}"
    job_pid = json.loads(ready.read_text())["pid"]
    record = json.loads((slot_dir(live_project.resolve()) / "holder.json").read_text())
    plant(project, record["backend"], record["record"])
    done = cgseq(project, "run", "--", "true")
    release.touch()
    assert_ran_cleanly(done)
    assert holder.wait(20) == 0, "the live job was killed by another slot's run"
    assert json.loads(ready.read_text())["pid"] == job_pid


@pytest.mark.parametrize("slug", ["proj-", "", "123-"])
def test_systemd_record_of_a_live_supervisor_is_not_touched_without_asking_systemd(
    slug: str,
) -> None:
    """Judged from the unit name alone: this process is the id's (live) supervisor."""
    live = jobids.new_job_id()
    for record in ({"unit": f"cgseq-{slug}{live}.scope"}, {"unit": 5}, {"unit": "other.scope"}):
        assert backends.load("systemd").reap(record) == [], record


@pytest.mark.vm
def test_systemd_record_naming_a_scope_outside_our_slice_is_not_touched(
    project: Path, procs
) -> None:
    """A unit named like ours, of a dead job id, but not started by cgseq (not in its slice)."""
    require_backend("systemd")
    job_id = dead_job_id()
    unit = f"cgseq-forged-{job_id}.scope"
    user = ["--user"] if os.geteuid() != 0 else []
    other = victim(procs, "systemd-run", *user, "--scope", "--quiet", f"--unit={unit}")
    plant(project, "systemd", {"unit": unit, "user": bool(user), "cgroup": None})
    done = cgseq(project, "run", "--backend", "poll", "--", "true")
    assert_ran_cleanly(done)
    assert pid_running(other.pid), f"a scope outside cgseq.slice was stopped:\n{done.stderr}"


# ---------------------------------------------------------------- cgroup1: groups outside


def require_cgroup1() -> None:
    require("root", os.geteuid() == 0, "creates cgroups as root")
    mounts = cgroupfs.find_mounts()
    have = all(name in mounts.v1 for name in cgroupfs.V1_CONTROLLERS)
    require("cgroup1", have, "needs the v1 memory, pids and freezer controllers")


@pytest.fixture
def outside_groups() -> Iterator[list[Path]]:
    """``<controller>/cgseq-test-forged-outside/<job id>``: ours, removed at teardown."""
    made: list[Path] = []
    yield made
    for path in reversed(made):  # our victims are dead by now (``procs`` is torn down first)
        cgroupfs.remove_group(path, timeout=2)


def make_outside(made: list[Path], job_id: str, pid: int, roots: list[Path]) -> list[Path]:
    """``<root>/cgseq-test-forged-outside/<job id>`` in each root, with ``pid`` moved in."""
    paths = []
    for root in roots:
        base = root / OUTSIDE
        for path in (base, base / job_id):
            if not path.is_dir():
                path.mkdir()
                made.append(path)
        (base / job_id / "cgroup.procs").write_text(str(pid))
        paths.append(base / job_id)
    return paths


def cgroup_roots(backend: str) -> list[Path]:
    """Where a forged record of ``backend`` points: hierarchy roots, outside cgseq's parent."""
    require("root", os.geteuid() == 0, "creates cgroups as root")
    mounts = cgroupfs.find_mounts()
    if backend == "cgroup1":
        require_cgroup1()
        return [mounts.v1[name] for name in cgroupfs.V1_CONTROLLERS]
    require("cgroup2", mounts.v2 is not None, "needs a cgroup v2 tree (unified or hybrid)")
    assert mounts.v2 is not None
    return [mounts.v2]


@pytest.mark.kernel
@pytest.mark.parametrize("command", [["run", "--", "true"], ["doctor", "--clean", "--json"]])
@pytest.mark.parametrize("backend", ["cgroup1", "cgroup2"])
def test_cgroup_record_naming_a_group_outside_the_parent_is_not_touched(
    project: Path, outside_groups: list[Path], procs, backend: str, command: list[str]
) -> None:
    """The record's backend does the reaping, whatever backend the run itself picks."""
    roots = cgroup_roots(backend)
    job_id = dead_job_id()
    other = victim(procs)
    paths = make_outside(outside_groups, job_id, other.pid, roots)
    record = {"backend": backend, "job_id": job_id, "paths": [str(p) for p in paths]}
    plant(project, backend, record)
    done = cgseq(project, *command, timeout=55)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    assert pid_running(other.pid), f"a process in a foreign cgroup was killed:\n{done.stderr}"
    assert all(path.is_dir() for path in paths), f"a foreign cgroup was removed:\n{done.stderr}"
    assert all(other.pid in cgroupfs.procs(path) for path in paths)
    with contextlib.suppress(ProcessLookupError):
        os.kill(other.pid, signal.SIGKILL)  # ours: empty the groups for teardown
    other.wait(10)


@pytest.mark.kernel
@pytest.mark.parametrize("paths", [5, "x", [5], [None], [{}]], ids=lambda r: repr(r))
def test_cgroup1_record_of_wrong_types_is_not_touched(project: Path, paths: object) -> None:
    require_cgroup1()
    plant(project, "cgroup1", {"backend": "cgroup1", "job_id": dead_job_id(), "paths": paths})
    done = cgseq(project, "run", "--", "sh", "-c", "exit 3")
    assert_ran_cleanly(done, 3)


@pytest.fixture(autouse=True, scope="module")
def _own_cgroup_parent() -> Iterator[None]:
    yield
    for base in cgroupfs.parent_dirs(PARENT) if sys.platform.startswith("linux") else []:
        for group in sorted(base.glob("*-*")):
            with contextlib.suppress(OSError):
                group.rmdir()
        with contextlib.suppress(OSError):
            base.rmdir()


# ---------------------------------------------------------------- record formats


def test_a_newer_cgseqs_record_is_left_for_that_cgseq(project: Path, procs) -> None:
    """A record this cgseq cannot read is not guessed at: what it names lives on, the record
    stays (that cgseq's doctor reaps it), the run refuses in one line and doctor says why.
    The same record in format 1 is reaped (see the control above)."""
    started, job_id = time.time() - 1, dead_job_id()
    leader = victim(procs, marker=job_id)
    path = plant(project, "poll", poll_record(job_id, leader.pid, started), {"v": 99})
    done = cgseq(project, "run", "--", "touch", "ran")
    assert done.returncode == 125, done.stderr
    (line,) = done.stderr.splitlines()
    assert "record format 99; this one reads up to 1" in line, done.stderr
    assert "Traceback" not in done.stderr and not (project / "ran").exists()
    assert pid_running(leader.pid) and path.exists(), done.stderr
    status = json.loads(cgseq(project, "status", "--json").stdout)["slots"]
    assert "newer cgseq" in status[0]["unsupervised"]["problem"], status
    cleaned = cgseq(project, "doctor", "--clean", "--no-canary", "--json")
    assert any("left alone" in line for line in json.loads(cleaned.stdout)["cleaned"]), cleaned
    assert pid_running(leader.pid) and path.exists()
