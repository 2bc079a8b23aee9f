"""A job's memory over time, downsampled to a bounded number of points as it is sampled.

The supervisor samples a job's memory many times a second; a job that runs an hour would
leave tens of thousands of samples. :class:`Timeline` keeps at most ``limit`` points: the
samples fall into buckets of equal width (in samples), each bucket keeps its largest
sample, and when the buckets are full neighbours are merged pairwise and the width doubles.
Every point kept is a real sample, in order, so a monotone input stays monotone; the peak
survives every merge, and the last sample (the kill point, when cgseq killed the job) is
always the last point. Pure: no I/O, stdlib only.
"""

from __future__ import annotations

from typing import Any, NamedTuple

LIMIT = 200  # points per job: ~4 KiB of JSON, enough for a chart 200 columns wide


class Top(NamedTuple):
    """The largest process of the job at a sample."""

    pid: int
    command: str
    rss: int  # bytes


class Point(NamedTuple):
    t: float  # seconds since the job started
    memory: int  # bytes, the whole job


class Timeline:
    """Memory samples of one job, at most ``limit`` points; see the module docstring."""

    def __init__(self, limit: int = LIMIT) -> None:
        if limit < 4:
            raise ValueError(f"a timeline keeps at least 4 points, not {limit}")
        self.limit = limit
        self._closed: list[Point] = []  # full buckets, each its largest sample
        self._width = 1  # samples per bucket
        self._open: Point | None = None  # the largest sample of the bucket being filled
        self._filled = 0  # samples in that bucket
        self._last: Point | None = None
        self.peak: Point | None = None
        self.top: Top | None = None  # the largest process at the peak
        self.samples = 0

    def add(self, t: float, memory: int, top: tuple[int, str, int] | None = None) -> None:
        """One sample: ``t`` seconds since the job started, ``memory`` bytes in all, and
        (pid, command, rss bytes) of its largest process, when known."""
        point = Point(t, memory)
        self.samples += 1
        self._last = point
        if self.peak is None or memory >= self.peak.memory:  # ties: the later one, as merges
            self.peak, self.top = point, Top(*top) if top is not None else None
        if self._open is None or memory >= self._open.memory:
            self._open = point
        self._filled += 1
        if self._filled == self._width:
            self._close_bucket()

    def _close_bucket(self) -> None:
        assert self._open is not None
        self._closed.append(self._open)
        self._open, self._filled = None, 0
        if len(self._closed) >= self.limit - 2:  # room for the open bucket and the last sample
            self._closed = _merged(self._closed)
            self._width *= 2

    def points(self) -> list[Point]:
        """The kept samples in time order; the last one is the last sample added."""
        kept = list(self._closed)
        for point in (self._open, self._last):
            if point is not None and (not kept or kept[-1] != point):
                kept.append(point)
        return kept

    def __len__(self) -> int:
        return len(self.points())

    def to_json(self) -> dict[str, Any]:
        """``{"points": [[t, bytes], ...], "peak": [t, bytes], "top": {pid, command, rss}}``."""
        return {
            "points": [[round(p.t, 3), p.memory] for p in self.points()],
            "peak": [round(self.peak.t, 3), self.peak.memory] if self.peak else None,
            "top": self.top._asdict() if self.top else None,
            "samples": self.samples,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], limit: int = LIMIT) -> Timeline:
        """A timeline as :meth:`to_json` wrote it (further samples may be added)."""
        timeline = cls(max(limit, len(data.get("points") or []) + 2))
        timeline._closed = [Point(float(t), int(m)) for t, m in data.get("points") or []]
        timeline._last = timeline._closed[-1] if timeline._closed else None
        peak, top = data.get("peak"), data.get("top")
        timeline.peak = Point(float(peak[0]), int(peak[1])) if peak else None
        timeline.top = Top(int(top["pid"]), str(top["command"]), int(top["rss"])) if top else None
        timeline.samples = int(data.get("samples") or len(timeline._closed))
        return timeline


def _merged(points: list[Point]) -> list[Point]:
    """Neighbours pairwise, each pair its larger sample (the later one on a tie)."""
    pairs = zip(points[0::2], points[1::2], strict=False)
    merged = [b if b.memory >= a.memory else a for a, b in pairs]
    return merged + points[len(merged) * 2 :]
