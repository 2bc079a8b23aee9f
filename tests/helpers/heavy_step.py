"""A heavy step for the integration tests (a hook body, a make recipe, a shimmed command).

``heavy_step.py LOG NAME [--gate DIR] [--fifo F] [--hold S] [--exit N]`` appends
``start NAME PID NS TURN`` to LOG, waits until ``DIR/NAME`` exists (the test's gate;
bounded) and until a writer of the FIFO F closes it, holds S seconds (a
window in which a second step would visibly overlap, never what a test waits on), appends
``end NAME PID NS TURN`` and exits N. TURN is ``$CGSEQ_TURN`` (``-`` outside any cgseq
job): the turn the step ran in. NS is ``time.monotonic_ns()``: system-wide on Linux, so
stamps of different processes compare. Each line is one O_APPEND write: lines of concurrent
steps never interleave, and their order in LOG is the order they happened in.

Stdlib only: it runs under whatever interpreter a hook or a Makefile gives it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

MAX_WAIT = 300.0  # a gate the test forgot never keeps a step alive for ever


def note(log: str, what: str, name: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        turn = os.environ.get("CGSEQ_TURN") or "-"
        os.write(fd, f"{what} {name} {os.getpid()} {time.monotonic_ns()} {turn}\n".encode())
    finally:
        os.close(fd)


def wait_for(gate: Path) -> None:
    deadline = time.monotonic() + MAX_WAIT
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("name")
    parser.add_argument("--gate", type=Path)
    parser.add_argument("--fifo", type=Path)
    parser.add_argument("--hold", type=float, default=0.0)
    parser.add_argument("--exit", type=int, default=0)
    args = parser.parse_args()
    note(args.log, "start", args.name)
    if args.gate is not None:
        wait_for(args.gate / args.name)
    if args.fifo is not None:
        args.fifo.read_bytes()  # blocks until the test opens it for writing and closes it
    time.sleep(min(args.hold, MAX_WAIT))
    note(args.log, "end", args.name)
    return args.exit


if __name__ == "__main__":
    sys.exit(main())
