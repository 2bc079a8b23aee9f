"""Rendering the results: one Markdown table (runners side by side) and a JSON document."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.model import Baselines, Cell, FigureResult, Row
from bench.runners import Runner


def _escape(text: str) -> str:
    """Make text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _met(row: Row) -> str:
    """The Met column: met / NOT met / blank when there is no target or no value."""
    if not row.target:
        return ""
    if row.met is None:
        return "–"
    return "met" if row.met else "**not met**"


def markdown(
    meta: dict[str, Any],
    baselines: Baselines,
    runners: list[Runner],
    figures: list[FigureResult],
    notes: list[str],
) -> str:
    """The whole report as Markdown: header lines, the table, then notes."""
    lines = [
        f"### cgseq benchmark ({meta['mode']} run, {meta['runtime_s']:.0f} s, {meta['date']})",
        "",
        f"Machine: {meta['machine']}. Python: `{meta['python']}`. "
        f"cgseq {meta['cgseq_commit']}; backends measured: {', '.join(meta['backends']) or '–'}.",
        f"Baselines (same run): bare `true` {Cell.time(baselines.true, None).text}, "
        f"bare `python3 -c pass` {Cell.time(baselines.python, None).text}; "
        "`× py` / `× true` are ratios to these medians.",
        "",
    ]
    header = ["Figure", "Metric", *(r.label for r in runners), "Baseline", "Target", "Met"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for figure in figures:
        for row in figure.rows:
            cells = [row.cells.get(r.key, Cell.na("–")).text for r in runners]
            values = [row.figure, row.metric, *cells, row.baseline, row.target, _met(row)]
            lines.append("| " + " | ".join(_escape(v) for v in values) + " |")
    lines.append("")
    lines.append("Runners: " + "; ".join(f"**{r.label}**: {r.note}" for r in runners) + ".")
    lines.append("")
    lines.extend(f"- {_escape(note)}" for note in notes)
    return "\n".join(lines) + "\n"


def errors_of(figures: list[FigureResult], runners: list[Runner]) -> list[str]:
    """One line per failed cell: where and why."""
    labels = {r.key: r.label for r in runners}
    found = []
    for figure in figures:
        for row in figure.rows:
            for key, cell in row.cells.items():
                if "error" in cell.data:
                    found.append(
                        f"error: {row.figure} / {row.metric} / {labels.get(key, key)}: "
                        f"{cell.data['error']}"
                    )
    return list(dict.fromkeys(found))


def _row_json(row: Row) -> dict[str, Any]:
    """A row as plain data."""
    return {
        "figure": row.figure,
        "metric": row.metric,
        "target": row.target,
        "met": row.met,
        "baseline": row.baseline,
        "cells": {key: asdict(cell) for key, cell in row.cells.items()},
    }


def document(
    meta: dict[str, Any],
    baselines: Baselines,
    runners: list[Runner],
    figures: list[FigureResult],
    notes: list[str],
) -> dict[str, Any]:
    """The whole report as JSON-ready data (rows plus every figure's raw measurements)."""
    return {
        "meta": meta,
        "baselines": {
            "true_s": baselines.true.to_json(),
            "python_pass_s": baselines.python.to_json(),
        },
        "runners": [
            {"key": r.key, "label": r.label, "kind": r.kind, "note": r.note} for r in runners
        ],
        "rows": [_row_json(row) for figure in figures for row in figure.rows],
        "figures": {
            f.name: {"seconds": f.seconds, "notes": f.notes, "raw": f.raw} for f in figures
        },
        "notes": notes,
    }


def write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (``-``: stdout), creating parent directories."""
    if str(path) == "-":
        print(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def dumps(data: dict[str, Any]) -> str:
    """Pretty JSON."""
    return json.dumps(data, indent=2, default=str)
