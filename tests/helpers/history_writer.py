"""Record one job in the history from a process of its own, once a gate file appears.

Usage: history_writer.py JOB_ID GATE READY [--busy-timeout S]

Appends its pid to READY once imported (the test waits for every writer), waits for GATE (so
all writers start at once), records a job whose job id is JOB_ID, and prints the history id.
A HistoryError is printed as ``error: ...`` with exit 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout

from cgseq import history
from cgseq.model import TerminationReason
from cgseq.result import JobResult


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("job_id")
    parser.add_argument("gate")
    parser.add_argument("ready")
    parser.add_argument("--busy-timeout", type=float, default=history.BUSY_TIMEOUT)
    args = parser.parse_args()
    with open(args.ready, "a") as ready:
        ready.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + 120
    while not os.path.exists(args.gate):
        if time.monotonic() > deadline:
            return 97  # the test never opened the gate
        time.sleep(0.005)
    result = JobResult(
        argv=["writer", args.job_id],
        cwd="/writers",
        project="/writers",
        backend="poll",
        limits={},
        enforcement={},
        exit_code=0,
        reason=TerminationReason.EXITED,
        job_id=args.job_id,
    )
    try:
        print(history.record(result, busy_timeout=args.busy_timeout))
    except history.HistoryError as exc:
        print(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
