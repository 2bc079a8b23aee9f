"""Write MB megabytes into a new /dev/shm file through an fd it keeps open, then hold it.

Usage: poll_shm.py PATH MB LOG [--hold S] [--existing] [--gate FIFO]

Creates PATH (O_EXCL; with --existing, opens the file that is already there), writes
MB MiB in 4 MiB chunks, appending the MiB written so far to LOG after each chunk, then
keeps the file open for S seconds (default 10) and exits 0 without removing it: what a
job killed mid-way would leave behind. With --gate, it waits for a line on FIFO after
creating the file and before writing (so a test can open the file first). Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

CHUNK = 4 << 20


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("mb", type=int)
    parser.add_argument("log")
    parser.add_argument("--hold", type=float, default=10.0)
    parser.add_argument("--existing", action="store_true")
    parser.add_argument("--gate")
    args = parser.parse_args(argv)
    log = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    flags = os.O_RDWR if args.existing else os.O_RDWR | os.O_CREAT | os.O_EXCL
    fd = os.open(args.path, flags, 0o600)
    if args.gate:
        with open(args.gate) as gate:
            gate.readline()
    block = b"s" * CHUNK
    for written in range(CHUNK, (args.mb << 20) + 1, CHUNK):
        os.write(fd, block)
        os.write(log, f"{written >> 20}\n".encode())
    time.sleep(args.hold)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
