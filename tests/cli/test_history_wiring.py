"""A run's memory timeline and early warning reach the history (the pipeline's wiring)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import job
from private_cgroups import require_backend

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("backend", ["poll", "cgroup1"])
def test_a_growing_hogs_timeline_is_monotone_ends_at_the_kill_and_warned_first(
    cgseq, work: Path, backend: str
) -> None:
    require_backend(backend)
    hog = job("hog", str(work / "hog"), "--step", "10", "--interval", "0.2", "--max", "600")
    options = ("--backend", backend, "--memory", "120M", "--memory-warn-share", "50%")
    done = cgseq("run", *options, "--lock", f"timeline-{backend}", "--", *hog, timeout=90)
    assert done.returncode == 137, done.stderr
    warned = [line for line in done.stderr.splitlines() if "of 120M (" in line]
    assert len(warned) == 1 and "; largest: " in warned[0], done.stderr  # once, with its process
    shown = cgseq("history", "show", "1", "--json")  # the only job of this test's history
    assert shown.returncode == 0, shown.stderr
    recorded = json.loads(shown.stdout)["job"]
    assert recorded["lock"] == f"timeline-{backend}" and recorded["reason"] == "memory"
    assert any("of 120M (" in w for w in recorded["warnings"]), recorded["warnings"]
    points = [memory for _, memory in recorded["timeline"]["points"]]
    assert len(points) >= 3, recorded["timeline"]
    assert points == sorted(points), points  # it only grew
    assert points[-1] == recorded["peak_memory"] == max(points)  # the last point: the kill
    assert recorded["timeline"]["top"]["pid"] > 0


@pytest.mark.vm
@pytest.mark.parametrize("backend", ["cgroup2", "systemd"])
def test_the_groups_memory_pressure_is_recorded(cgseq, work: Path, backend: str) -> None:
    """PSI totals exist per group on cgroup v2 only: read before the group goes."""
    require_backend(backend)
    hog = job("hog", str(work / "hog"), "--step", "10", "--interval", "0.05", "--max", "100")
    done = cgseq("run", "--backend", backend, "--memory", "60M", "--", *hog, timeout=240)
    assert done.returncode == 137, done.stderr
    shown = cgseq("history", "show", "1", "--json")
    assert shown.returncode == 0, shown.stderr
    recorded = json.loads(shown.stdout)["job"]
    assert recorded["psi"] and recorded["psi"]["some_usec"] is not None, recorded  # measured
