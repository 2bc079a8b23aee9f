"""Map a file on disk MAP_SHARED read-only, touch every page, hold it, exit 0.

Usage: poll_mmap.py PATH LOG [--hold S]

The pages are the file's page cache: resident in this process, but file-backed and
reclaimable, so a memory cgroup does not count them against the job. Appends ``mapped
<bytes>`` to LOG once every page is resident, holds the mapping S seconds (default 2)
and exits 0. Stdlib only.
"""

from __future__ import annotations

import argparse
import mmap
import sys
import time


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("log")
    parser.add_argument("--hold", type=float, default=2.0)
    args = parser.parse_args(argv)
    with open(args.path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ)
    total = sum(mapped[offset] for offset in range(0, len(mapped), mmap.PAGESIZE))
    with open(args.log, "a") as log:
        log.write(f"mapped {len(mapped)} {total}\n")
    time.sleep(args.hold)
    mapped.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
