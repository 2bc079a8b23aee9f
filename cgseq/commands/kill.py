"""``cgseq kill [ID|--all]``: stop running jobs as a timeout does (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os

from cgseq import control
from cgseq.project import slot_for


def kill_command(*, ident: str | None, every: bool) -> int:
    here = slot_for(os.getcwd(), None).key
    lines, code = control.act(control.chosen(ident, every, running=True, here=here), "kill")
    print("\\n".join(lines) or "no running jobs")
    return code
