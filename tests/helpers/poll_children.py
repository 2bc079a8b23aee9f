"""N children each allocate MB megabytes at once and hold them.

Usage: poll_children.py N MB [LOG]

Forks N children; each fills MB MiB (resident at once), appends ``MB`` to LOG when it has
them, and sleeps 30 s; the parent waits for them. A job that was not killed ends after
30 s and exits 0. Stdlib only.
"""

from __future__ import annotations

import os
import sys
import time


def main(argv: list[str]) -> int:
    count, mb = int(argv[0]), int(argv[1])
    log = os.open(argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if argv[2:] else None
    children = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            held = b"x" * (mb << 20)
            if log is not None:
                os.write(log, f"{mb}\n".encode())
            time.sleep(30)
            os._exit(len(held) & 0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
