"""The early warning while a job runs: one line when its memory crosses a share of its limit.

``MemoryWarner(limit, share=0.8).check(memory, argv, top)`` returns the notice text the
first time a sample reaches 80% of the limit, and None otherwise: at most one line per
threshold, however the memory goes up and down after. The text has no ``cgseq:`` prefix:
it is a notice like any other (the CLI prints ``cgseq: `` before it, the library passes it to
``on_notice``). Pure and cheap: the supervisor calls it on every sample.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

from cgseq.units import format_size

DEFAULT_SHARE = 0.8
COMMAND_WIDTH = 60  # characters of the command shown; the line stays readable at 80 columns


class MemoryWarner:
    """Warns once per threshold (a share of ``limit``, or several) that a job nears it."""

    def __init__(self, limit: int, share: float | Sequence[float] = DEFAULT_SHARE) -> None:
        shares = [share] if isinstance(share, int | float) else list(share)
        if limit <= 0 or not shares or not all(0 < s <= 1 for s in shares):
            raise ValueError(f"a warning needs a limit > 0 and shares in (0, 1], not {share!r}")
        self.limit = limit
        # bytes, not shares: 80% of 2G is 1717986918.4, and 1.6G (1717986918) is 80% of it
        self._pending = sorted(round(share * limit) for share in shares)  # lowest first

    def check(
        self, memory: int, argv: Sequence[str], top: tuple[int, str, int] | None = None
    ) -> str | None:
        """The warning when ``memory`` crossed a threshold not warned about yet, else None.

        Several thresholds crossed by one sample make one line (for the highest of them).
        """
        crossed = [level for level in self._pending if memory >= level]
        if not crossed:
            return None
        self._pending = self._pending[len(crossed) :]
        return warning_line(memory, self.limit, argv, top)


def warning_line(
    memory: int, limit: int, argv: Sequence[str], top: tuple[int, str, int] | None
) -> str:
    """``python -m pytest at 1.6G of 2G (80%); largest: python pid 4242 1.1G``."""
    percent = round(memory * 100 / limit)
    line = f"{_command(argv)} at {format_size(memory)} of {format_size(limit)} ({percent}%)"
    if top is not None:
        pid, command, rss = top
        line += f"; largest: {command} pid {pid} {format_size(rss)}"
    return line


def _command(argv: Sequence[str]) -> str:
    """``python -m pytest``, not ``/usr/lib/.../bin/python -m pytest``; cut to a width."""
    if not argv:
        return "the job"
    shown = shlex.join([os.path.basename(argv[0]), *argv[1:]])
    return shown if len(shown) <= COMMAND_WIDTH else shown[: COMMAND_WIDTH - 1] + "…"
