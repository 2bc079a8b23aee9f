"""A live job is never reaped as dead: not when the wall clock is stepped, in either direction.

The holding ``cgseq run`` sees a wall clock an hour off (libfaketime, as ``faketime`` sets
it up), which is what a clock step of an hour after its start looks like to everyone else.
The next ``cgseq run`` on the machine (another slot) reaps the groups of dead supervisors
and must leave this one alone.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import job, pid_running, wait_until
from private_cgroups import private_env, remove_private_groups, require_backend

from tests.conftest import require


def faketime_library() -> str | None:
    """libfaketime, where Debian's ``faketime`` package puts it (``.ci/run`` installs it)."""
    found = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    found += glob.glob("/usr/local/lib/faketime/libfaketime.so.1")
    return found[0] if found else None


PARENT = "cgseq-test-liveness"  # other tests' runs must not reap (or spare) our groups


@pytest.fixture
def parent() -> Iterator[str]:
    yield PARENT
    remove_private_groups(PARENT)


def stepped_env(offset: str) -> dict[str, str]:
    library = faketime_library()
    require("faketime", library is not None, "apt-get install faketime")
    assert library is not None
    # only the wall clock moves, as in a real step; CLOCK_MONOTONIC/BOOTTIME do not
    extra = {"LD_PRELOAD": library, "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    return private_env(PARENT, extra)


# the job itself sees the true clock: Python's time.sleep fails (EINVAL) under libfaketime
UNFAKED = ["env", "-u", "LD_PRELOAD", "-u", "FAKETIME"]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("backend", ["poll", "cgroup1"])
@pytest.mark.parametrize("offset", ["-1h", "+1h"])
def test_a_clock_step_does_not_get_a_live_job_reaped(
    cgseq, start, work: Path, reaper, parent: str, backend: str, offset: str
):
    require_backend(backend)
    ready, release = work / "ready", work / "release"
    holder = start(
        "run",
        "--backend",
        backend,
        "--",
        *UNFAKED,
        *job("hold", ready, release),
        env=stepped_env(offset),
    )
    wait_until(
        lambda: ready.exists() or holder.proc.poll() is not None, 20, "the held job to start"
    )
    assert ready.exists(), f"holder exited {holder.proc.poll()}:\n{holder.stderr}"
    job_pid = int(json.loads(ready.read_text())["pid"])
    reaper.track(job_pid)
    other = cgseq(
        "run",
        "--backend",
        backend,
        "--lock",
        "another-project",
        "--",
        "true",
        env=private_env(parent),
    )
    assert other.returncode == 0, other.stderr
    assert "dead supervisor" not in other.stderr, other.stderr
    assert pid_running(job_pid), f"the live job was killed:\n{other.stderr}"
    release.touch()
    assert holder.wait(20) == 0, holder.stderr
