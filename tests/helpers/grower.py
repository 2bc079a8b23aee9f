"""A process that grows only when told to, and logs every signal it gets: ``cgseq watch``'s target.

Usage: grower.py FIFO READY SIGNALS [--step MB]

Starts one child (which holds a little memory and waits), writes ``<pid> <child pid>`` to
READY, then reads the FIFO: each ``g`` allocates and touches STEP MB more and appends the new
total (MB) to READY; ``q`` ends both. Each catchable signal it gets is appended to SIGNALS by
name (and ignored), so a test can tell it was never signalled. Bounded: at most 40 steps, and
it ends by itself after 120 s. Stdlib only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time

CATCHABLE = [s for s in signal.Signals if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD)]


def log_signals(path: str) -> None:
    def note(signum: int, frame: object) -> None:
        with open(path, "a") as out:
            out.write(f"{signal.Signals(signum).name}\n")

    for signum in CATCHABLE:
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, note)


def append(path: str, line: str) -> None:
    with open(path, "a") as out:
        out.write(line + "\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("fifo")
    parser.add_argument("ready")
    parser.add_argument("signals")
    parser.add_argument("--step", type=int, default=20)
    args = parser.parse_args()
    log_signals(args.signals)
    child = os.fork()
    if child == 0:
        held = b"c" * (4 << 20)  # a small child, so the tree has two processes
        time.sleep(120)
        os._exit(len(held) and 0)
    fifo = os.open(args.fifo, os.O_RDWR)  # RDWR: open does not wait for a writer
    append(args.ready, f"{os.getpid()} {child}")
    held: list[bytes] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(held) < 40:
        command = os.read(fifo, 1)
        if command == b"q":
            break
        if command == b"g":
            held.append(b"x" * (args.step << 20))  # every page written: resident at once
            append(args.ready, str(len(held) * args.step))
    os.kill(child, signal.SIGKILL)  # its own child, by pid
    os.waitpid(child, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
