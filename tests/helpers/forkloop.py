"""Fork loop: start up to MAX_CHILDREN sleeping children, counting refused forks.

Usage: forkloop.py MAX_CHILDREN [--sleep S] [--attempts N] [--log FILE]

Each child sleeps S seconds (default 30) and exits. A refused fork (EAGAIN: a pids
limit) is counted and retried after 10 ms; the loop stops after N fork attempts in all
(default 500) or MAX_CHILDREN started children. It prints (and appends to FILE)
``forkloop: started N, refused M``, then waits for its children; exit status 1 when a
fork was refused, else 0. Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _child(sleep: float) -> None:
    try:
        time.sleep(sleep)
    finally:
        os._exit(0)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("max_children", type=int)
    parser.add_argument("--sleep", type=float, default=30.0)
    parser.add_argument("--attempts", type=int, default=500)
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    children: list[int] = []
    refused = 0
    for _ in range(args.attempts):
        if len(children) >= args.max_children:
            break
        try:
            pid = os.fork()
        except BlockingIOError:
            refused += 1
            time.sleep(0.01)
            continue
        if pid == 0:
            _child(args.sleep)
        children.append(pid)
    line = f"forkloop: started {len(children)}, refused {refused}"
    print(line, flush=True)
    if args.log:
        with open(args.log, "a") as handle:
            handle.write(line + "\n")
    for pid in children:
        os.waitpid(pid, 0)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
