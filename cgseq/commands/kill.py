"""``cgseq kill [ID|--all]``: stop running jobs as a timeout does (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os

from cgseq import control
from cgseq.project import slot_for


def kill_command(*, ident: str | None, every: bool) -> int:
    here = slot_for(os.getcwd(), None).key
    found = control.chosen(ident, every, running=True, here=here)
    if not found:
        print("no running jobs")
    lines = [control.request(target, "kill") for target in found]
    for line in lines:
        print(line)
    return 0 if all(line.endswith(": stopped") for line in lines) else 1
