"""``cgseq cancel ID|--all``: take waiting jobs out of the queue before they run."""

from __future__ import annotations

from cgseq import control


def cancel_command(*, ident: str | None, every: bool) -> int:
    found = control.chosen(ident, every, running=False)
    if not found:
        print("no waiting jobs")
    lines = [control.request(target, "cancel") for target in found]
    for line in lines:
        print(line)
    return 0 if all(line.endswith(": cancelled") for line in lines) else 1
