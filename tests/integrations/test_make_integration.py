"""``packaging/make/cgseq.mk`` with real GNU make: heavy targets of ``make -j4`` and of a
second make in the same project run one at a time, all finish, and a recursive make under a
heavy target runs inline in its turn."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from integration_support import (
    HEAVY_STEP,
    assert_one_at_a_time,
    events,
    release_one_at_a_time,
    steps,
    waiting_lines,
)

from tests.conftest import require
from tests.support import REPO, WAITING, start_process

MAKEFILE = """\
include {mk}
$(call cgseq_heavy,test lint outer)
STEP = {python} {step} {log}
test: ; $(STEP) test$(RUN) --gate {gates}
lint: ; $(STEP) lint$(RUN) --gate {gates}
outer: ; printf %s "$$CGSEQ_TURN" > {outer} && $(MAKE) --no-print-directory inner
inner: ; $(CGSEQ) $(STEP) inner
.PHONY: test lint outer inner
"""
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def project(repo: Path, log: Path, tmp_path: Path) -> Path:
    require("make", shutil.which("make") is not None, "GNU make is not installed")
    (tmp_path / "gates").mkdir()
    (repo / "Makefile").write_text(
        MAKEFILE.format(
            mk=REPO / "packaging" / "make" / "cgseq.mk",
            python=sys.executable,
            step=HEAVY_STEP,
            log=log,
            gates=tmp_path / "gates",
            outer=tmp_path / "outer-turn",
        )
    )
    return repo


def test_make_j4_beside_a_second_make_runs_heavy_targets_one_at_a_time(
    project: Path, log: Path, tmp_path: Path
) -> None:
    makes = [
        start_process(["make", "-j4", "test", "lint", f"RUN={n}"], cwd=project) for n in (1, 2)
    ]
    release_one_at_a_time(log, tmp_path / "gates", 4, makes)
    for make in makes:
        assert make.wait(120) == 0, make.stderr
    done = assert_one_at_a_time(log)
    assert sorted(step.name for step in done) == ["lint1", "lint2", "test1", "test2"]
    assert all(step.turn != "-" for step in done)
    assert waiting_lines(makes) == 3, "a waiter announced itself once"
    assert len(events(log)) == 8


def test_a_recursive_make_under_a_heavy_target_runs_inline(
    project: Path, log: Path, tmp_path: Path
) -> None:
    make = start_process(["make", "-j2", "outer"], cwd=project)
    assert make.wait(120) == 0, make.stderr
    assert WAITING not in make.stderr, "the inner make queued behind its own outer target"
    assert "jobserver unavailable" not in make.stderr, make.stderr
    [inner] = steps(log)
    assert inner.turn == (tmp_path / "outer-turn").read_text(), "it took a turn of its own"
