"""The memory timeline keeps at most 200 points, the peak, the last sample, and the shape."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgseq.history.timeline import LIMIT, Point, Timeline

MiB = 1 << 20


@st.composite
def memories(draw: st.DrawFn, high: int = 64 << 30) -> list[int]:
    """Up to 3000 samples (far past the limit, so the merging is what is tested)."""
    count = draw(st.one_of(st.integers(1, 3000), st.integers(190, 420)))
    rnd = draw(st.randoms(use_true_random=False))
    shape = draw(st.sampled_from(["random", "spikes", "flat"]))
    if shape == "flat":
        return [high // 2] * count
    if shape == "spikes":
        return [high if rnd.random() < 0.01 else rnd.randrange(high // 8) for _ in range(count)]
    return [rnd.randrange(high) for _ in range(count)]


def fed(values: list[int], limit: int = LIMIT) -> Timeline:
    timeline = Timeline(limit)
    for index, memory in enumerate(values):
        timeline.add(index * 0.1, memory, (1000 + index, "hog", memory // 2))
    return timeline


@settings(deadline=None)
@given(memories())
def test_at_most_200_points_with_the_peak_and_the_last_sample(values: list[int]) -> None:
    timeline = fed(values)
    points = timeline.points()
    assert len(points) <= LIMIT
    assert points[-1] == Point((len(values) - 1) * 0.1, values[-1])
    assert max(p.memory for p in points) == max(values)
    assert timeline.peak is not None and timeline.peak in points
    assert timeline.peak.memory == max(values)


@settings(deadline=None)
@given(memories())
def test_every_point_is_a_real_sample_in_time_order(values: list[int]) -> None:
    samples = [Point(index * 0.1, memory) for index, memory in enumerate(values)]
    remaining = iter(samples)
    points = fed(values).points()
    assert all(point in remaining for point in points), "not a subsequence of the samples"


@settings(deadline=None)
@given(memories(high=50 * MiB))
def test_a_monotone_input_stays_monotone(steps: list[int]) -> None:
    values = list(itertools.accumulate(steps))
    points = fed(values).points()
    assert all(a.memory <= b.memory for a, b in itertools.pairwise(points))
    assert all(a.t < b.t for a, b in itertools.pairwise(points))
    assert points[-1].memory == values[-1]


def test_a_short_job_keeps_every_sample() -> None:
    values = [i * MiB for i in range(150)]
    assert [p.memory for p in fed(values).points()] == values


def test_a_long_job_is_spread_evenly_over_its_whole_time() -> None:
    values = [(i % 97) * MiB for i in range(20000)]
    points = fed(values).points()
    assert LIMIT // 2 - 2 <= len(points) <= LIMIT
    gaps = [b.t - a.t for a, b in itertools.pairwise(points)]
    assert points[0].t < 20000 * 0.1 * 0.02, "the start of the job was dropped"
    assert max(gaps[:-1]) <= 3 * sorted(gaps)[len(gaps) // 2], "uneven buckets"


def test_the_largest_process_at_the_peak_is_kept() -> None:
    timeline = Timeline()
    timeline.add(0.0, 10 * MiB, (11, "sh", 1 * MiB))
    timeline.add(1.0, 300 * MiB, (12, "python3", 250 * MiB))
    timeline.add(2.0, 100 * MiB, (13, "make", 90 * MiB))
    assert timeline.peak == Point(1.0, 300 * MiB)
    assert timeline.top == (12, "python3", 250 * MiB)


def test_json_round_trip() -> None:
    timeline = fed([i * i for i in range(1000)])
    again = Timeline.from_json(timeline.to_json())
    assert again.points() == [Point(round(p.t, 3), p.memory) for p in timeline.points()]
    assert again.peak == timeline.peak and again.top == timeline.top
    assert again.samples == 1000
    again.add(100.0, 5)
    assert again.points()[-1] == Point(100.0, 5) and len(again) <= LIMIT


def test_too_small_a_limit_is_refused() -> None:
    with pytest.raises(ValueError):
        Timeline(2)
