"""What figures produce and share: settings, baselines, table rows and the run context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.runners import Cgseq, Runner
from bench.stats import Summary, fmt_num, fmt_summary


@dataclass(frozen=True)
class Settings:
    """How much to measure: the full run (default) or ``--quick``."""

    quick: bool
    repeats: int  # overhead, recording and baselines
    handoff_repeats: int  # scenes with one waiter
    depths: tuple[int, ...]  # queue depths for scaling (hand-off and overhead)
    waiter_counts: tuple[int, ...]  # queue depths whose waiters are weighed
    cpu_window: float  # seconds of CPU accounting for waiters and supervisors
    probe_repeats: int  # overhead runs on another slot while a queue waits
    drain: int  # queued jobs run (and hand-offs timed) per scene before the rest are stopped
    contention_sizes: tuple[int, ...]
    contention_gap: float  # seconds between submissions
    contention_job: float  # seconds each contention job runs
    monitor_sizes: tuple[int, ...]
    enforce_repeats: int

    @classmethod
    def make(cls, quick: bool) -> Settings:
        """The full settings (a ~5 minute run on 2 cores) or the quick ones."""
        if quick:
            return cls(True, 5, 2, (1, 10), (10,), 1.5, 3, 3, (30,), 0.05, 0.1, (10, 100), 1)
        return cls(
            False, 25, 7, (1, 10, 100), (10, 50), 5.0, 5, 6, (30, 100), 0.05, 0.1,
            (10, 100, 500), 3,
        )  # fmt: skip


@dataclass(frozen=True)
class Baselines:
    """Wall times (seconds) of bare ``true`` and bare ``python3 -c pass``, measured this run."""

    true: Summary
    python: Summary

    def ratio_text(self, seconds: float, to: str = "python") -> str:
        """``seconds`` as a multiple of a baseline, e.g. ``1.8× py``."""
        base = self.python if to == "python" else self.true
        return f"{seconds / base.median:.2f}× {'py' if to == 'python' else 'true'}"


@dataclass
class Cell:
    """One table cell: its text, an optional number for target checks, raw data for JSON."""

    text: str
    value: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def na(cls, why: str = "n/a") -> Cell:
        """A cell for a runner the metric does not apply to."""
        return cls(why)

    @classmethod
    def error(cls, message: str) -> Cell:
        """A cell whose measurement failed; the message goes into the JSON and the notes."""
        return cls("error", None, {"error": message})

    @classmethod
    def time(cls, summary: Summary, baselines: Baselines | None, to: str = "python") -> Cell:
        """A time summary (seconds) shown in ms, with its ratio to a baseline."""
        ms = Summary(summary.median * 1e3, summary.low * 1e3, summary.high * 1e3, summary.n)
        text = fmt_summary(ms, "ms")
        if baselines is not None:
            text += f" · {baselines.ratio_text(summary.median, to)}"
        return cls(text, summary.median, {"seconds": summary.to_json()})

    @classmethod
    def number(cls, summary: Summary, unit: str = "", scale: float = 1.0) -> Cell:
        """A summary of a plain quantity shown as ``median unit (min–max)``."""
        m, lo, hi = summary.median / scale, summary.low / scale, summary.high / scale
        shown = Summary(m, lo, hi, summary.n)
        return cls(fmt_summary(shown, unit), summary.median, {"value": summary.to_json()})

    @classmethod
    def scalar(cls, value: float, unit: str = "", text: str | None = None) -> Cell:
        """A single number."""
        return cls(text or f"{fmt_num(value)} {unit}".rstrip(), value, {"value": value})


@dataclass
class Row:
    """One table row: a metric of one figure, one cell per runner, and its target if any."""

    figure: str
    metric: str
    cells: dict[str, Cell]
    target: str = ""
    met: bool | None = None
    baseline: str = ""  # the same-run floor this row compares with, if any


@dataclass
class FigureResult:
    """A figure's rows, notes for under the table, and raw data for the JSON."""

    name: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Context:
    """Everything a figure needs: settings, the runners, baselines, backends, shared scenes."""

    settings: Settings
    cgseq: list[Cgseq]
    peers: list[Runner]
    baselines: Baselines
    backends: list[str]
    scenes: dict[tuple[str, int], Any] = field(default_factory=dict)

    @property
    def main_cgseq(self) -> Cgseq | None:
        """The cgseq users run: the console script if installed, else ``python -m cgseq``."""
        return self.cgseq[0] if self.cgseq else None

    def queue_runners(self) -> list[Runner]:
        """The runners compared in queue figures: the main cgseq and every peer."""
        main = self.main_cgseq
        return ([main] if main else []) + list(self.peers)

    def all_runners(self) -> list[Runner]:
        """Every cgseq variant and every peer."""
        return [*self.cgseq, *self.peers]
