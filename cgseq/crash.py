"""A crash log for cgseq's own bugs: versions and the traceback, in the state dir.

Only in the per-user state dir, written like every state file (:mod:`cgseq.safefs`: a fresh
file renamed into place, never through a symlink). Never in a shared directory under a fixed
name: when the state dir is unusable the details go to stderr instead.
"""

from __future__ import annotations

import platform
import sys
import time
import traceback


def write_crash_log(exc: BaseException) -> str:
    """Where the details went: the crash log's path, or "stderr"."""
    from cgseq import __version__

    text = (
        f"cgseq {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        f"argv: {sys.argv}\n{time.ctime()}\n\n" + "".join(traceback.format_exception(exc))
    )
    try:
        from cgseq import safefs
        from cgseq.queue import layout

        path = layout.crash_file()
        safefs.write_atomic(path, text.encode())
    except Exception:  # the state dir is what failed, maybe: the details must not be lost
        sys.stderr.write(text)
        return "stderr"
    return str(path)
