"""Config precedence (pyproject < env < flag), the private state dir, nothing in the project."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from cli_support import cgseq_env, parse_result

from tests.conftest import require

pytestmark = pytest.mark.timeout(60)

MiB = 1 << 20


def pyproject(project: Path, body: str) -> Path:
    path = project / "pyproject.toml"
    path.write_text(f'[project]\nname = "demo"\n\n[tool.cgseq]\n{body}\n')
    return path


def config_line(text: str, name: str) -> str:
    lines = [line for line in text.splitlines() if line.split()[:1] == [name]]
    assert len(lines) == 1, f"no single line for {name!r} in:\n{text}"
    return lines[0]


def find_setting(data: object, name: str) -> dict[str, object]:
    """The entry for one option in ``cgseq config --json``, wherever the layout puts it."""
    if isinstance(data, dict):
        if isinstance(data.get(name), dict) and "source" in data[name]:
            return data[name]
        if data.get("name") == name and "source" in data:
            return data
        children = list(data.values())
    elif isinstance(data, list):
        children = data
    else:
        return {}
    for child in children:
        found = find_setting(child, name)
        if found:
            return found
    return {}


def test_config_shows_each_value_with_its_source(cgseq, project: Path):
    path = pyproject(project, 'memory = "300M"\ntimeout = "20m"\npids = 40')
    env = cgseq_env({"CGSEQ_TIMEOUT": "10m", "CGSEQ_PIDS": "30"})
    done = cgseq("config", env=env)
    assert done.returncode == 0, done.stderr
    memory = config_line(done.stdout, "memory")
    assert "300M" in memory and "pyproject.toml" in memory, memory
    timeout = config_line(done.stdout, "timeout")
    assert "10m" in timeout and "CGSEQ_TIMEOUT" in timeout, timeout
    pids = config_line(done.stdout, "pids")
    assert "30" in pids and "CGSEQ_PIDS" in pids, pids
    assert "default" in config_line(done.stdout, "backend")

    data = json.loads(cgseq("config", "--json", env=env).stdout)
    memory_json = find_setting(data, "memory")
    assert memory_json.get("value") == 300 * MiB, memory_json
    assert str(path) in str(memory_json.get("source")) or "pyproject" in str(memory_json["source"])
    assert find_setting(data, "timeout").get("value") == 600
    assert "CGSEQ_TIMEOUT" in str(find_setting(data, "timeout").get("source"))


def test_run_uses_pyproject_then_env_then_flag(cgseq, project: Path, work: Path):
    pyproject(project, 'memory = "300M"\ntimeout = "20m"\npids = 40')
    env = cgseq_env({"CGSEQ_TIMEOUT": "10m", "CGSEQ_PIDS": "30"})
    report = work / "report.json"
    done = cgseq("run", "--pids", "25", "--report", report, "--", "true", env=env)
    assert done.returncode == 0, done.stderr
    limits = json.loads(report.read_text())["limits"]
    assert limits["memory"] == 300 * MiB  # pyproject
    assert limits["timeout"] == 600  # env beats pyproject
    assert limits["pids"] == 25  # flag beats env and pyproject


@pytest.mark.parametrize(
    ("in_pyproject", "in_env", "flag", "expect"),
    [
        ('timeout = "0.5s"', None, None, 124),  # pyproject alone takes effect
        ('timeout = "10m"', "0.5s", None, 124),  # env beats pyproject (stricter)
        ('timeout = "0.5s"', "none", None, 0),  # env beats pyproject (looser)
        ('timeout = "10m"', "10m", "0.5s", 124),  # flag beats both
        ('timeout = "0.5s"', "0.5s", "none", 0),  # flag beats both (looser)
    ],
)
def test_timeout_precedence_takes_effect(cgseq, project: Path, in_pyproject, in_env, flag, expect):
    pyproject(project, in_pyproject)
    env = cgseq_env({"CGSEQ_TIMEOUT": in_env} if in_env else None)
    options = ["--timeout", flag] if flag else []
    done = cgseq("run", *options, "--", "sleep", "1.2", env=env)
    assert done.returncode == expect, done.stderr
    if expect == 124:  # the reason line names the timeout that took effect, not a race
        assert "timed out after 0.5s" in done.stderr, done.stderr


def test_bad_value_in_pyproject_is_2_naming_the_file(cgseq, project: Path, work: Path):
    path = pyproject(project, 'memory = "2X"')
    marker = work / "ran"
    done = cgseq("run", "--", "touch", marker)
    assert done.returncode == 2
    assert not marker.exists()
    assert str(path) in done.stderr, done.stderr
    assert "2X" in done.stderr and "512M" in done.stderr
    assert cgseq("config").returncode == 2


def test_broken_pyproject_is_2_naming_the_file(cgseq, project: Path):
    path = project / "pyproject.toml"
    path.write_text("[tool.cgseq]\nmemory = \n")
    done = cgseq("run", "--", "true")
    assert done.returncode == 2
    assert str(path) in done.stderr, done.stderr


def test_bad_env_value_is_2_naming_the_variable(cgseq, work: Path):
    marker = work / "ran"
    done = cgseq("run", "--", "touch", marker, env=cgseq_env({"CGSEQ_MEMORY": "2X"}))
    assert done.returncode == 2
    assert not marker.exists()
    assert "CGSEQ_MEMORY" in done.stderr, done.stderr


def test_pyproject_of_the_project_root_applies_in_a_subdirectory(cgseq, project: Path, work: Path):
    pyproject(project, "pids = 33")
    sub = project / "pkg"
    sub.mkdir()
    report = work / "report.json"
    assert cgseq("run", "--report", report, "--", "true", cwd=sub).returncode == 0
    assert json.loads(report.read_text())["limits"]["pids"] == 33


# --- state dir ---------------------------------------------------------------------------------


def test_world_writable_state_dir_is_refused(cgseq, state_dir: Path, work: Path):
    state_dir.chmod(0o777)
    marker = work / "ran"
    try:
        done = cgseq("run", "--", "touch", marker)
    finally:
        state_dir.chmod(0o700)
    assert done.returncode == 125
    assert not marker.exists()
    assert str(state_dir) in done.stderr and "writable" in done.stderr, done.stderr


def test_state_dir_owned_by_another_user_is_refused(cgseq, state_dir: Path, work: Path):
    require("root", os.geteuid() == 0, "chown a dir to another user")
    os.chown(state_dir, 65534, 65534)
    marker = work / "ran"
    try:
        done = cgseq("run", "--", "touch", marker)
    finally:
        os.chown(state_dir, 0, 0)
    assert done.returncode == 125
    assert not marker.exists()
    assert str(state_dir) in done.stderr and "owned" in done.stderr, done.stderr


def test_default_state_dir_is_private_under_xdg_runtime_dir(cgseq, tmp_path: Path):
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = cgseq_env({"XDG_RUNTIME_DIR": str(runtime)}, drop=("CGSEQ_STATE_DIR",))
    done = cgseq("run", "--", "true", env=env)
    assert done.returncode == 0, done.stderr
    state = runtime / "cgseq"
    info = state.stat()
    assert info.st_uid == os.getuid()
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert any(state.iterdir()), "nothing recorded in the state dir"


def test_default_state_dir_owned_by_another_user_is_refused(cgseq, tmp_path: Path, work: Path):
    require("root", os.geteuid() == 0, "chown a dir to another user")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    (runtime / "cgseq").mkdir(mode=0o700)
    os.chown(runtime / "cgseq", 65534, 65534)
    env = cgseq_env({"XDG_RUNTIME_DIR": str(runtime)}, drop=("CGSEQ_STATE_DIR",))
    marker = work / "ran"
    done = cgseq("run", "--", "touch", marker, env=env)
    assert done.returncode == 125
    assert not marker.exists()
    assert str(runtime / "cgseq") in done.stderr, done.stderr


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``root`` (the .git dir included) with mode, size and mtime."""
    found = {}
    for path in root.rglob("*"):
        info = path.lstat()
        found[str(path.relative_to(root))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return found


def test_nothing_is_written_into_the_project(cgseq, project: Path, work: Path, state_dir: Path):
    pyproject(project, 'memory = "300M"')
    (project / "sub").mkdir()
    before = snapshot(project)
    time.sleep(0.01)  # a write after this point changes an mtime
    assert cgseq("run", "--report", work / "r.json", "--", "true").returncode == 0
    assert cgseq("run", "--json", "--", "true", cwd=project / "sub").returncode == 0
    assert cgseq("run", "--timeout", "0.3s", "--", "sleep", "5").returncode == 124
    assert cgseq("status").returncode == 0
    assert cgseq("config").returncode == 0
    assert snapshot(project) == before
    assert any(state_dir.iterdir()), "the run left no record in the state dir"


def test_report_and_json_carry_the_whole_result(cgseq, project: Path, work: Path):
    sub = project / "sub"
    sub.mkdir()
    report = work / "report.json"
    argv = ["sh", "-c", "echo out; sleep 0.4; exit 3"]
    done = cgseq(
        "run",
        "--backend",
        "poll",
        "--memory",
        "300M",
        "--pids",
        "50",
        "--timeout",
        "30s",
        "--report",
        report,
        "--json",
        "--",
        *argv,
        cwd=sub,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith("out\n")
    result = parse_result(done.stdout)
    assert json.loads(report.read_text()) == result
    keys = {
        "argv",
        "cwd",
        "project",
        "backend",
        "limits",
        "enforcement",
        "exit_code",
        "reason",
        "queue_wait",
        "duration",
        "attempts",
        "peak_memory",
        "peak_pids",
    }
    assert keys <= set(result), keys - set(result)
    assert result["argv"] == argv
    assert result["cwd"] == str(sub)
    assert result["project"] == str(project)
    assert result["backend"] == "poll"
    limits = result["limits"]
    assert (limits["memory"], limits["pids"], limits["timeout"]) == (300 * MiB, 50, 30)
    assert set(result["enforcement"]) >= {"memory", "pids"}, result["enforcement"]
    assert result["exit_code"] == 3 and result["reason"] == "exited"
    assert 0.35 <= result["duration"] < 10
    assert 0 <= result["queue_wait"] < 2
    assert result["attempts"] == 1
    # sh + sleep: their anonymous memory (what poll counts, like a memory cgroup), a few 100K
    assert isinstance(result["peak_memory"], int) and 64 << 10 < result["peak_memory"] < 300 * MiB
    assert isinstance(result["peak_pids"], int) and 1 <= result["peak_pids"] <= 3


def test_report_is_written_when_the_command_is_not_found(cgseq, work: Path):
    report = work / "report.json"
    done = cgseq("run", "--report", report, "--", "cgseq-no-such-command-7f3a")
    assert done.returncode == 127
    data = json.loads(report.read_text())
    assert data["exit_code"] == 127 and data["reason"] == "not-found"
    assert done.stdout == ""  # --report alone leaves stdout to the job
