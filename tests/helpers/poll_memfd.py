"""Write MB megabytes into a memfd (no name in any file system), optionally map it, hold it.

Usage: poll_memfd.py MB [--map] [--hold S]

The memfd's pages are shmem: a memory cgroup charges them to the job, once, however many
fds and mappings reach them. With --map the memfd is also mapped MAP_SHARED and every page
touched. Holds for S seconds (default 2) and exits 0. Stdlib only.
"""

from __future__ import annotations

import argparse
import mmap
import os
import sys
import time


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mb", type=int)
    parser.add_argument("--map", action="store_true")
    parser.add_argument("--hold", type=float, default=2.0)
    args = parser.parse_args(argv)
    fd = os.memfd_create("cgseq-test")  # Linux >= 3.17
    for _ in range(args.mb):
        os.write(fd, b"m" * (1 << 20))
    if args.map:
        mapped = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ)
        sum(mapped[offset] for offset in range(0, len(mapped), mmap.PAGESIZE))
    time.sleep(args.hold)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
