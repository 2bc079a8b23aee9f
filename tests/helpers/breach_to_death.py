"""Measure a kernel backend's enforcement: peak vs limit and time from breach to death.

Usage: breach_to_death.py BACKEND [--limit MB] [--step MB] [--interval S] [--repeat N]

Runs ``hog.py STEP INTERVAL`` (default 50 MB every 100 ms) under ``--limit`` (default
300 MB) with cgseq backend BACKEND, driven like the supervisor does (spawn -> place ->
release, sample, kill on breach). Breach = the start of the hog step it died in (the
step that crossed the limit, from the hog's log: an upper bound, it includes the time
to touch part of that step's pages); death = when waitpid returns for the hog.
Prints one JSON line per run and a median line. Needs root, cgseq importable.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HOG = Path(__file__).resolve().with_name("hog.py")
MB = 1 << 20


def run_once(backend_name: str, limit_mb: int, step: int, interval: float) -> dict[str, object]:
    from cgseq.backends import load
    from cgseq.jobids import new_job_id
    from cgseq.model import JobSpec, Limits
    from cgseq.supervise.spawn import spawn_held

    log = Path(tempfile.mkdtemp()) / "hog.log"
    argv = [sys.executable, str(HOG), str(step), str(interval), "--max", "1024", "--quiet"]
    argv += ["--log", str(log)]
    group = load(backend_name).open_group(JobSpec(tuple(argv), Limits(limit_mb * MB)), new_job_id())
    child = spawn_held(argv)
    group.place(child.pid)
    child.release()
    status = 0
    next_sample = 0.0
    while True:
        pid, status = os.waitpid(child.pid, os.WNOHANG)
        if pid:
            death = time.monotonic_ns()
            break
        if group.poll_interval is not None and time.monotonic() >= next_sample:
            next_sample = time.monotonic() + group.poll_interval
            if group.sample() is not None:
                group.kill()
        time.sleep(0.001)
    group.kill()
    while not group.is_empty():
        time.sleep(0.01)
    verdict, usage = group.termination(), group.usage()
    group.close()
    steps = [line.split() for line in log.read_text().splitlines()]
    breach = int(steps[-1][0])  # the hog died in its last step: that step crossed the limit
    return {
        "backend": backend_name,
        "limit_mb": limit_mb,
        "peak_mb": round((usage.peak_memory or 0) / MB, 1),
        "overshoot_mb": round(((usage.peak_memory or 0) - limit_mb * MB) / MB, 1),
        "breach_to_death_ms": round((death - breach) / 1e6, 1),
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "reason": verdict.reason.value if verdict else None,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backend")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--step", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    runs = [
        run_once(args.backend, args.limit, args.step, args.interval) for _ in range(args.repeat)
    ]
    for run in runs:
        print(json.dumps(run))
    deaths = [float(str(run["breach_to_death_ms"])) for run in runs]
    peaks = [float(str(run["peak_mb"])) for run in runs]
    print(
        f"{args.backend}: limit {args.limit}M, peak median {statistics.median(peaks)}M "
        f"(max {max(peaks)}M), breach->death median {statistics.median(deaths)} ms "
        f"(min {min(deaths)}, max {max(deaths)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
