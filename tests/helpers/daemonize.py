"""Double-fork a daemon that outlives this process, then exit.

Usage: daemonize.py [--sleep S] [--pidfile FILE] [--stay S]

The daemon (grandchild) calls setsid, redirects stdio to /dev/null (so it holds no pipe
of the caller open), writes its pid to FILE (atomically, via rename) and sleeps S
seconds (default 120). The first child exits at once, so the daemon is orphaned and
reparented (to a subreaper such as cgseq, else to init). This process waits for the
first child, then sleeps ``--stay`` seconds (default 0) and exits 0. Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _daemon(sleep: float, pidfile: str | None) -> None:
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if pidfile:
        tmp = f"{pidfile}.tmp"
        with open(tmp, "w") as handle:
            handle.write(str(os.getpid()))
        os.rename(tmp, pidfile)
    time.sleep(sleep)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sleep", type=float, default=120.0)
    parser.add_argument("--pidfile")
    parser.add_argument("--stay", type=float, default=0.0)
    args = parser.parse_args(argv)
    first = os.fork()
    if first == 0:
        try:
            if os.fork() == 0:
                _daemon(args.sleep, args.pidfile)
        finally:
            os._exit(0)
    os.waitpid(first, 0)
    time.sleep(args.stay)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
