"""A job's memory timeline drawn in the terminal, against its limit, with the kill point.

::

     200M │┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈▂▄▆█ limit
          │                                        ▁▃▅▇█████
          │                              ▂▄▆███████████████
        0 └──────────────────────────────────────────────────┘
          0s                                              4.2s
                                                            ^ killed: memory

Eight rows, each cell in eighths of a row (``▁`` to ``█``); the top is the limit, or the peak
when that is higher or there is no limit. A column is the largest sample in its stretch of
time; between samples the last one holds. Plain ASCII (``.``, ``+``, ``#``) where the output
cannot take UTF-8. Pure: points in, lines out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from cgseq.units import format_duration, format_size

ROWS = 8
LABEL = 7  # "  1.5G " before the axis
RIGHT = 7  # " limit" after the plot
MIN_PLOT = 20


class Glyphs(NamedTuple):
    eighths: str  # index 0..8: empty to full
    axis: str
    corner: str
    end: str
    rule: str
    limit: str


UNICODE = Glyphs(" ▁▂▃▄▅▆▇█", "│", "└", "┘", "─", "┈")
ASCII = Glyphs("   ..+++#", "|", "+", "+", "-", "-")


def glyphs_for(encoding: str | None) -> Glyphs:
    """UTF-8 output gets block elements; anything else plain ASCII."""
    name = (encoding or "").lower().replace("-", "").replace("_", "")
    return UNICODE if name in ("utf8", "utf8sig") else ASCII


def draw(
    points: Sequence[Sequence[float]],
    limit: int | None,
    *,
    width: int = 80,
    glyphs: Glyphs = UNICODE,
    killed: str | None = None,
) -> list[str]:
    """The chart's lines, each at most ``width`` characters (a plot of at least 20 columns).

    ``points`` are (seconds since start, bytes) in time order; ``killed`` names why cgseq
    ended the job at the last point (``memory``), marked under it.
    """
    if not points:
        return ["(no memory samples)"]
    plot = max(MIN_PLOT, width - LABEL - 1 - RIGHT)
    values = columns(points, plot)
    top = max(limit or 0, max(int(p[1]) for p in points), 1)
    heights = [_eighths(v, top) for v in values]
    limit_row = _row_of(limit, top)
    labels = {ROWS - 1: format_size(top)}
    if limit and limit_row is not None and limit_row != ROWS - 1:
        labels[limit_row] = format_size(limit)
    lines = [_plot_row(r, heights, labels, limit_row, glyphs) for r in reversed(range(ROWS))]
    lines += _axis(points, plot, glyphs)
    if killed:
        lines.append(_mark(LABEL + plot, f"killed: {killed}", width))
    return [line.rstrip()[:width] for line in lines]


def columns(points: Sequence[Sequence[float]], count: int) -> list[int | None]:
    """The largest sample in each of ``count`` equal stretches of time (None before the first
    sample; a stretch without one holds the value before it)."""
    end = max(float(points[-1][0]), 1e-9)
    found: list[int | None] = [None] * count
    for t, memory in points:
        column = min(count - 1, int(float(t) / end * count))
        current = found[column]
        found[column] = int(memory) if current is None else max(current, int(memory))
    held: int | None = None
    for index, value in enumerate(found):
        held = value if value is not None else held
        found[index] = held
    return found


def _eighths(value: int | None, top: int) -> int:
    return 0 if value is None else round(value / top * ROWS * 8)


def _row_of(limit: int | None, top: int) -> int | None:
    """The row the limit line is drawn in (0 is the bottom one)."""
    if not limit:
        return None
    return max(0, math.ceil(limit / top * ROWS) - 1)


def _plot_row(
    row: int, heights: list[int], labels: dict[int, str], limit_row: int | None, glyphs: Glyphs
) -> str:
    cells = "".join(_cell(h - row * 8, row == limit_row, glyphs) for h in heights)
    note = " limit" if row == limit_row else ""
    return f"{labels.get(row, ''):>{LABEL - 1}} {glyphs.axis}{cells}{note}"


def _cell(filled: int, on_limit: bool, glyphs: Glyphs) -> str:
    if filled <= 0:
        return glyphs.limit if on_limit else " "
    return glyphs.eighths[min(filled, 8)]


def _mark(column: int, text: str, width: int) -> str:
    """A caret under ``column`` with ``text`` beside it: on its right if that fits."""
    if column + 2 + len(text) <= width:
        return " " * column + "^ " + text
    return " " * max(0, column - len(text) - 1) + text + " ^"


def _axis(points: Sequence[Sequence[float]], plot: int, glyphs: Glyphs) -> list[str]:
    rule = f"{'0':>{LABEL - 1}} {glyphs.corner}{glyphs.rule * plot}{glyphs.end}"
    end = format_duration(float(points[-1][0]))
    times = " " * (LABEL + 1) + "0s" + end.rjust(plot - 2)
    return [rule, times]
