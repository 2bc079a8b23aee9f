"""Memory pressure (PSI) totals of a job's group, as the history keeps them.

A cgroup v2 group's ``memory.pressure`` (Linux >= 4.20, CONFIG_PSI) reads::

    some avg10=0.00 avg60=0.00 avg300=0.00 total=1234
    full avg10=0.00 avg60=0.00 avg300=0.00 total=567

``total`` is the time in microseconds that some (or all) of the group's tasks stalled
waiting for memory. Read it just before the group is removed.
"""

from __future__ import annotations

from pathlib import Path


def read(path: Path) -> dict[str, int] | None:
    """The totals of the group at ``path``; None where it keeps none (cgroup v1, no PSI)."""
    try:
        return totals((path / "memory.pressure").read_text()) or None
    except OSError:
        return None


def totals(text: str) -> dict[str, int]:
    """``{"some": usec, "full": usec}`` from ``memory.pressure``'s text; a line that is not
    one of those is left out (``full`` is missing before Linux 5.x on the root group)."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        fields = dict(part.partition("=")[::2] for part in rest.split())
        if kind in ("some", "full") and fields.get("total", "").isdecimal():
            found[kind] = int(fields["total"])
    return found
