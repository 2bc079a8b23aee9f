"""Thread crowd: start N threads that block, log the task count, then hold them.

Usage: poll_threads.py N LOG [--hold S]

After each thread starts, appends ``<tasks>`` (threads of this process, main included) to
LOG. Holds all threads for S seconds (default 10) and exits 0: a job that was not killed
ends by itself. Small stacks (256 KiB), so 100 threads cost little memory. Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("log")
    parser.add_argument("--hold", type=float, default=10.0)
    args = parser.parse_args(argv)
    threading.stack_size(256 << 10)
    release = threading.Event()
    log = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for started in range(1, args.count + 1):
        threading.Thread(target=release.wait, daemon=True).start()
        os.write(log, f"{started + 1}\n".encode())
    time.sleep(args.hold)
    release.set()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
