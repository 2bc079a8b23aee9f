"""Print the changes an install or uninstall makes, each once it is done."""

from __future__ import annotations

from collections.abc import Sequence

from cgseq.errors import EXIT_USAGE
from cgseq.integrations.scripts import Change


def apply_and_report(changes: Sequence[Change], dry_run: bool) -> int:
    """Apply each change, then say what it did; a refusal makes the exit code 2.

    One at a time, so that when a step fails the lines above it are what was done.
    """
    for change in changes:
        if change.apply is not None and not dry_run:
            change.apply()
        done = "(dry run, not done) " if dry_run and change.apply is not None else ""
        print(f"{change.subject}: {done}{change.message}")
    return EXIT_USAGE if any(change.refused for change in changes) else 0
