"""Play a supervisor that dies mid-job: open a group, start a job in it, write the record.

Usage: orphan_job.py BACKEND RECORD_FILE [--memory BYTES] [--pids N] -- CMD [ARGS...]

Opens a group with cgseq backend BACKEND (job id from this process's pid), starts CMD in
it the way the supervisor does (spawn -> place -> release), then writes
``{"backend", "job_id", "record", "pid"}`` as JSON to RECORD_FILE (atomically) and sleeps
until killed (at most 120 s). A test SIGKILLs this process to leave an orphaned group
for ``Backend.reap`` / ``cgroupfs.reap_orphans``. Needs cgseq importable (PYTHONPATH).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    from cgseq import jobids
    from cgseq.backends import load
    from cgseq.model import JobSpec, Limits
    from cgseq.supervise.spawn import spawn_held

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backend")
    parser.add_argument("record_file")
    parser.add_argument("--memory", type=int)
    parser.add_argument("--pids", type=int)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    job_id = jobids.new_job_id()
    spec = JobSpec(tuple(args.command), Limits(memory=args.memory, pids=args.pids))
    group = load(args.backend).open_group(spec, job_id)
    child = spawn_held(args.command)
    group.place(child.pid)
    child.release()
    data = {"backend": args.backend, "job_id": job_id, "record": group.record(), "pid": child.pid}
    tmp = f"{args.record_file}.tmp"
    with open(tmp, "w") as handle:
        json.dump(data, handle)
    os.rename(tmp, args.record_file)
    time.sleep(120)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
