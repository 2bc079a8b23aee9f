"""A crash log for cgseq's own bugs: versions and the traceback, in the state dir."""

from __future__ import annotations

import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path


def write_crash_log(exc: BaseException) -> str:
    from cgseq import __version__

    text = (
        f"cgseq {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        f"argv: {sys.argv}\n{time.ctime()}\n\n" + "".join(traceback.format_exception(exc))
    )
    try:
        from cgseq.statedir import state_dir

        path = state_dir() / "crash.log"
    except Exception:
        path = Path(tempfile.gettempdir()) / "cgseq-crash.log"
    try:
        path.write_text(text)
    except OSError:
        return "stderr"
    return str(path)
