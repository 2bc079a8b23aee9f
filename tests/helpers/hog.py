"""Memory hog: allocate and touch MB_PER_STEP megabytes every INTERVAL seconds.

Usage: hog.py MB_PER_STEP INTERVAL [--max MB] [--log FILE] [--quiet]

Each step appends one line ``<monotonic_ns> <total MB after this step>`` to FILE *before*
it allocates, so a test can tell when the job crossed a limit (the first step whose
total exceeds it) and compare with when the job died. Allocation is bounded by
``--max`` (default 1024 MB); at the cap the hog holds its memory for 30 s and exits 0,
so a hog that was not killed fails a test instead of eating the machine.
Pages are filled (``b"x" * n``), so they count as resident at once. Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _append(path: str | None, line: str) -> None:
    if path is None:
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mb_per_step", type=int)
    parser.add_argument("interval", type=float)
    parser.add_argument("--max", type=int, default=1024, help="stop at this many MB")
    parser.add_argument("--log", help="append '<monotonic_ns> <total MB>' per step")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    held: list[bytes] = []
    total = 0
    while total + args.mb_per_step <= args.max:
        total += args.mb_per_step
        _append(args.log, f"{time.monotonic_ns()} {total}")
        held.append(b"x" * (args.mb_per_step << 20))
        if not args.quiet:
            print(f"hog: {total} MB", flush=True)
        time.sleep(args.interval)
    time.sleep(30)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
