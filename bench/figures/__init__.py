"""The figures of issue 5, in table order; each is ``run(ctx) -> FigureResult``."""

from __future__ import annotations

from collections.abc import Callable

from bench.figures import (
    contention,
    enforcement,
    handoff,
    monitoring,
    overhead,
    recording,
    scaling,
    waiters,
)
from bench.model import Context, FigureResult

Figure = Callable[[Context], FigureResult]

FIGURES: dict[str, Figure] = {
    "overhead": overhead.run,
    "handoff": handoff.run,
    "contention": contention.run,
    "waiters": waiters.run,
    "scaling": scaling.run,
    "monitoring": monitoring.run,
    "enforcement": enforcement.run,
    "recording": recording.run,
}
