"""``cgseq cancel ID|--all``: take waiting jobs out of the queue before they run."""

from __future__ import annotations

from cgseq import control


def cancel_command(*, ident: str | None, every: bool) -> int:
    lines, code = control.act(control.chosen(ident, every, running=False), "cancel")
    print("\\n".join(lines) or "no waiting jobs")
    return code
