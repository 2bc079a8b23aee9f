"""The pytest plugin, with real pytest processes in a generated project (issue 11, item 4).

Each test writes a tiny test suite and a ``[tool.cgseq]`` table into a temporary git
repository and runs ``python -m pytest`` there, as a user types it: the plugin is active
through the ``pytest11`` entry point of the editable install.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from integration_support import init_repo

from cgseq import backends
from cgseq.integrations import pytest_turn
from tests.cli.cli_support import remove_test_cgroups
from tests.conftest import require
from tests.support import Running, run_cgseq, start_cgseq, start_process, wait_until

pytestmark = pytest.mark.timeout(300)

WAIT = 120  # seconds: generous, on a loaded 2-core machine
HEADER = re.compile(r"^cgseq: turn taken after \d+\.\ds; backend (\w+)(.*)$", re.MULTILINE)
CGROUP_PARENT = "cgseq-test-pytest-plugin"  # ours alone: others reap only their own parent

# one test: marks its start, waits for the gate when it is the first, marks its end
MARK_TEST = """\
import os, time

def _mark(what):
    fd = os.open(os.environ.get("MARKS", os.devnull), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"{what} {os.environ.get('NAME')} {time.monotonic_ns()}\\n".encode())
    os.close(fd)

def test_mark():
    _mark("start")
    gate = os.environ.get("GATE")
    deadline = time.monotonic() + 240
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.02)
    _mark("end")
"""

HOG_TEST = """\
import time

def test_hog():
    hog = bytearray(400 << 20)  # past the 100M limit, touched
    time.sleep(240)
    assert hog
"""


def project(path: Path, settings: str, tests: str = MARK_TEST) -> Path:
    init_repo(path)
    (path / "pyproject.toml").write_text(f"[tool.cgseq]\n{settings}")
    (path / "test_it.py").write_text(tests)
    return path


def pytest_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]


def start_pytest(where: Path, *args: str, **env: str) -> Running:
    return start_process(pytest_argv(*args), cwd=where, env={**os.environ, **env})


def run_pytest(where: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        pytest_argv(*args),
        cwd=where,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
    )


def slot(where: Path) -> dict[str, object] | None:
    slots = json.loads(run_cgseq("status", "--json", cwd=where).stdout)["slots"]
    return slots[0] if slots else None


def running(where: Path) -> bool:
    found = slot(where)
    return found is not None and found["running"] is not None


def waiters(where: Path) -> int:
    found = slot(where)
    return len(found["waiting"]) if found is not None else 0  # type: ignore[arg-type]


def marks(path: Path) -> list[tuple[str, str, int]]:
    lines = path.read_text().split("\n") if path.exists() else []
    return [(w, n, int(ns)) for w, n, ns in (line.split() for line in lines if line)]


def test_two_direct_pytests_are_serialized(tmp_path: Path) -> None:
    where = project(tmp_path / "p", 'backend = "poll"\n')
    log, gate = tmp_path / "marks", tmp_path / "gate"
    first = start_pytest(where, MARKS=str(log), NAME="first", GATE=str(gate))
    wait_until(lambda: marks(log), WAIT, "the first pytest's test to start")
    second = start_pytest(where, MARKS=str(log), NAME="second")
    wait_until(lambda: waiters(where) == 1, WAIT, "the second pytest waiting for its turn")
    assert [n for _, n, _ in marks(log)] == ["first"]  # waiting, not running
    gate.touch()
    assert first.wait(WAIT) == 0, first.stdout + first.stderr
    assert second.wait(WAIT) == 0, second.stdout + second.stderr
    order = [(what, name) for what, name, _ in marks(log)]
    assert order == [("start", "first"), ("end", "first"), ("start", "second"), ("end", "second")]


@pytest.mark.parametrize("backend", ["poll", "cgroup1"])
def test_pytest_past_the_memory_limit_is_killed(tmp_path: Path, backend: str) -> None:
    if backend != "poll":
        require("root", os.geteuid() == 0, f"the {backend} backend creates groups as root")
        found = backends.load(backend).probe()
        require(backend, found.available, f"{found.reason} (fix: {found.fix})")
    where = project(tmp_path / "p", f'backend = "{backend}"\nmemory = "100M"\n', HOG_TEST)
    try:
        done = run_pytest(where, CGSEQ_CGROUP_PARENT=CGROUP_PARENT)
    finally:
        remove_test_cgroups(CGROUP_PARENT)
    assert done.returncode == 137, done.stdout + done.stderr
    assert re.search(r"^cgseq: killed .*pytest.*: memory .*limit 100M", done.stderr, re.M)


def test_header_line(tmp_path: Path) -> None:
    where = project(tmp_path / "p", 'backend = "poll"\nmemory = "1G"\npids = 256\n')
    done = run_pytest(where)
    assert done.returncode == 0, done.stdout + done.stderr
    headers = HEADER.findall(done.stdout)
    assert headers == [("poll", ", memory 1G (sampled), pids 256")], done.stdout


NESTED = ("--", sys.executable, "-m", "cgseq", "run")  # a job inline in the outer one's turn


@pytest.mark.parametrize("outer", [(), ("--lock", "named"), NESTED], ids=["", "lock", "nested"])
def test_under_cgseq_run_only_the_header(tmp_path: Path, outer: tuple[str, ...]) -> None:
    where = project(tmp_path / "p", 'backend = "poll"\n')
    done = run_cgseq("run", *outer, "--", *pytest_argv(), cwd=where, timeout=WAIT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(HEADER.findall(done.stdout)) == 1, done.stdout
    assert "waiting for turn" not in done.stderr  # one turn: the plugin queued for no other


@pytest.mark.parametrize("off", [("-p", "no:cgseq"), ("CGSEQ_PYTEST=0",)])
def test_turned_off(tmp_path: Path, off: tuple[str, ...]) -> None:
    where = project(tmp_path / "p", 'backend = "poll"\n')
    gate = tmp_path / "gate"
    wait = f"import os,time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.02)"
    holder = start_cgseq("run", "--", sys.executable, "-c", wait, cwd=where)
    try:
        wait_until(lambda: running(where), WAIT, "the holder to take the turn")
        args, env = (off, {}) if off[0] == "-p" else ((), dict([off[0].split("=")]))
        done = run_pytest(where, *args, MARKS=str(tmp_path / "marks"), NAME="off", **env)
    finally:
        gate.touch()
        holder.wait(WAIT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cgseq:" not in done.stdout + done.stderr


@pytest.mark.parametrize("settings", ["pytest_max_workers = 1\n", 'memory = "700M"\n'])
def test_xdist_auto_is_capped(tmp_path: Path, settings: str) -> None:
    """By the configured maximum; by the memory limit (700M holds one 512M worker)."""
    pytest.importorskip("xdist", reason="pytest-xdist is not installed")
    where = project(tmp_path / "p", f'backend = "poll"\n{settings}')
    done = run_pytest(where, "-n", "auto", MARKS=str(tmp_path / "marks"), NAME="x")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^(created: 1/1 worker|1 worker \[)", done.stdout, re.M), done.stdout


def test_memory_per_worker_is_learned_from_history(tmp_path: Path) -> None:
    where = project(tmp_path / "p", 'backend = "poll"\n')
    hog = "import time; hog = bytearray(300 << 20); time.sleep(1)"
    done = run_cgseq("run", "--", sys.executable, "-c", hog, "pytest", "-n", "3", cwd=where)
    assert done.returncode == 0, done.stderr
    learned = pytest_turn.per_worker_memory(str(where))
    assert 90 << 20 <= learned <= 200 << 20  # about 300M / 3 workers


def test_worker_cap_rule() -> None:
    cap = pytest_turn.worker_cap
    assert cap(None, None, 512 << 20, 8) is None  # nothing set: xdist decides
    assert cap(2 << 30, None, 512 << 20, 8) == 4
    assert cap(100 << 20, None, 512 << 20, 8) == 1  # never none
    assert cap(8 << 30, None, 512 << 20, 2) == 2  # never more than the CPUs
    assert cap(8 << 30, 3, 512 << 20, 8) == 3
    assert pytest_turn.workers_of(["pytest", "-n4"]) == 4
    assert pytest_turn.workers_of(["pytest", "--numprocesses=2"]) == 2
    assert pytest_turn.workers_of(["pytest", "-n", "auto"]) is None
