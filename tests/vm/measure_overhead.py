"""Per-job cost of a systemd scope, measured in the test VM (run by tests/vm/suite.sh).

Times ``open_group + place + release + wait + close`` of ``true`` in a transient scope
against a plain held spawn of ``true`` (``spawn_held + release + wait``), N times each,
interleaved; prints medians with min-max in milliseconds and one JSON line.
Usage: python tests/vm/measure_overhead.py [N]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable

from cgseq.backends import systemd
from cgseq.jobids import new_job_id
from cgseq.model import JobSpec, Limits
from cgseq.supervise.spawn import spawn_held

MB = 1 << 20


def plain() -> None:
    child = spawn_held(["true"])
    child.release()
    os.waitpid(child.pid, 0)


def scoped(backend: systemd.SystemdBackend) -> Callable[[], None]:
    def run() -> None:
        spec = JobSpec(("true",), Limits(memory=256 * MB, pids=100))
        group = backend.open_group(spec, new_job_id())
        child = spawn_held(["true"])
        group.place(child.pid)
        child.release()
        os.waitpid(child.pid, 0)
        while not group.is_empty():
            time.sleep(0.001)
        group.close()

    return run


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


def main(n: int) -> None:
    backend = systemd.BACKEND()
    found = backend.probe()
    if not found.available:
        print(f"measure_overhead: systemd backend unavailable: {found.reason}")
        return
    job = scoped(backend)
    job(), plain()  # warm-up: imports, first bus connection
    bare, scope = [], []
    for _ in range(n):
        bare.append(timed(plain))
        scope.append(timed(job))
    who = "root/system manager" if os.geteuid() == 0 else "user/user manager"
    result = {
        "who": who,
        "n": n,
        "plain_ms": summary(bare),
        "scope_ms": summary(scope),
        "overhead_ms": round(statistics.median(scope) - statistics.median(bare), 1),
    }
    print(
        f"scope overhead ({who}): scope {result['scope_ms']} ms vs plain "
        f"{result['plain_ms']} ms -> +{result['overhead_ms']} ms per job"
    )
    print("OVERHEAD_JSON " + json.dumps(result))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
