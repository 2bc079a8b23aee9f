"""Fork loop that logs what it has: after each fork, the job's process count.

Usage: poll_forks.py MAX LOG

Forks up to MAX children that sleep 30 s; after each fork appends ``<processes>`` (this
process plus its live children) to LOG, so a test knows a count the job really reached.
Children never exit early and SIGCHLD keeps its default, so none is reaped before the
job ends. Exits 0 after the last child is started and has ended. Stdlib only.
"""

from __future__ import annotations

import os
import sys
import time


def main(argv: list[str]) -> int:
    most, log_path = int(argv[0]), argv[1]
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    children = []
    for _ in range(most):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        children.append(pid)
        os.write(log, f"{len(children) + 1}\n".encode())
    for pid in children:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
