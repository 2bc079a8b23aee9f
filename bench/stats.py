"""Summaries of repeated measurements: median with min–max."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    """Median, minimum and maximum of one measurement repeated ``n`` times."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary | None:
        """Summarise ``values``; None when there is nothing to summarise."""
        if not values:
            return None
        return cls(statistics.median(values), min(values), max(values), len(values))

    def shifted(self, by: float) -> Summary:
        """The same summary with ``by`` added to every statistic (e.g. minus a baseline)."""
        return Summary(self.median + by, self.low + by, self.high + by, self.n)

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the JSON report."""
        return {"median": self.median, "min": self.low, "max": self.high, "n": self.n}


def fmt_num(value: float) -> str:
    """A short human number: 3 significant digits, no exponent for the usual ranges."""
    magnitude = abs(value)
    if value == int(value) and magnitude < 1e6:
        return str(int(value))
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_summary(summary: Summary, unit: str) -> str:
    """``median unit (min–max)``, or just ``median unit`` for a single sample."""
    text = f"{fmt_num(summary.median)} {unit}".rstrip()
    if summary.n > 1:
        text += f" ({fmt_num(summary.low)}–{fmt_num(summary.high)})"
    return text
