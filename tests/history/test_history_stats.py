"""``history stats`` figures, computed from known runs (pure: jobs in, figures out)."""

from __future__ import annotations

import pytest

from cgseq.history import stats
from tests.history.history_support import make_job

MiB = 1 << 20


def test_runs_failures_medians_and_maxima_per_command() -> None:
    jobs = [
        make_job(1, ["make", "test"], duration=10, peak=100 * MiB),
        make_job(2, ["make", "test"], duration=30, peak=300 * MiB, exit_code=2),
        make_job(3, ["make", "lint"], duration=1, peak=None),
        make_job(4, ["make", "test"], duration=20, peak=200 * MiB),
        make_job(5, ["make", "test"], duration=50, peak=250 * MiB, exit_code=137),
    ]
    figures = {f.command: f for f in stats.per_command(jobs)}
    test = figures["make test"]
    assert (test.runs, test.failures) == (4, 2)
    assert (test.median_duration, test.max_duration) == (25, 50)
    assert (test.median_peak, test.max_peak) == (225 * MiB, 300 * MiB)
    lint = figures["make lint"]
    assert (lint.runs, lint.failures, lint.median_peak, lint.max_peak) == (1, 0, None, None)
    assert lint.trend.direction == "-"
    assert [f.command for f in stats.per_command(jobs)] == ["make lint", "make test"]


def test_the_same_command_in_two_projects_is_two_commands() -> None:
    jobs = [make_job(1, ["make"], project="/a"), make_job(2, ["make"], project="/b")]
    assert [(f.project, f.runs) for f in stats.per_command(jobs)] == [("/a", 1), ("/b", 1)]


def test_argv0_is_grouped_by_its_base_name() -> None:
    jobs = [make_job(1, ["/usr/bin/python3", "x.py"]), make_job(2, ["python3", "x.py"])]
    assert [(f.command, f.runs) for f in stats.per_command(jobs)] == [("python3 x.py", 2)]


@pytest.mark.parametrize(
    ("peaks", "direction"),
    [
        ([100, 110, 120, 130, 140, 150, 160, 170, 180, 190], "growing"),
        ([100, 120, 115, 130, 150, 145, 170], "growing"),  # noisy, but it keeps rising
        ([190, 180, 170, 160, 150], "shrinking"),
        ([100, 101, 100, 102, 100, 101], "steady"),  # noise: less than 10% change
        ([100, 300, 100, 300, 100, 300], "steady"),  # up and down, no direction
        ([100, 200], "-"),  # too few runs to tell
    ],
)
def test_the_trend_of_peak_memory(peaks: list[int], direction: str) -> None:
    assert stats.trend([p * MiB for p in peaks]).direction == direction


def test_the_trend_looks_at_the_last_ten_runs_and_gives_the_slope_per_run() -> None:
    old = [make_job(i, ["job"], peak=900 * MiB) for i in range(5)]  # high, long ago
    new = [make_job(10 + i, ["job"], peak=(100 + 10 * i) * MiB) for i in range(10)]
    (figure,) = stats.per_command(old + new)
    assert figure.trend.direction == "growing" and figure.trend.runs == 10
    assert figure.trend.slope == pytest.approx(10 * MiB)
