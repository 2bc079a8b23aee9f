"""``cgseq doctor``: every backend, whether it works here, what it enforces, how to fix it.

Availability is not taken on trust: for each available backend a canary job runs under
a small memory limit, and doctor reports whether it was really killed for memory.
``--clean`` kills and removes what dead supervisors left behind (only cgseq's own).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

from cgseq import backends
from cgseq.backends.base import Availability
from cgseq.integrations.setup import Check

CANARY_LIMIT = 64 << 20
CANARY = (
    "import time\n"
    "chunks = []\n"
    "for _ in range(64):\n"  # up to 512M in 8M steps: far past the 64M limit
    "    chunks.append(bytearray(8 << 20)); time.sleep(0.02)\n"
)


def doctor_command(*, as_json: bool, clean: bool, canary: bool) -> int:
    found = backends.probe_all()
    auto = next(a.backend for a in found if a.available)  # polling always is
    canaries = {} if not canary else {a.backend: _canary(a) for a in found if a.available}
    cleaned = _clean() if clean else []
    project = project_setup()
    if as_json:
        data = [
            asdict(a) | {"enforces": dict(a.enforces), "canary": canaries.get(a.backend)}
            for a in found
        ]
        setup = None if project is None else [check._asdict() for check in project]
        report = {"auto": auto, "backends": data, "cleaned": cleaned, "project_setup": setup}
        print(json.dumps(report, indent=2))
    else:
        _print(found, auto, canaries, cleaned)
        _print_project(project)
    failed = [name for name, c in canaries.items() if c and not c["enforced"]]
    return 1 if failed else 0


def _print(
    found: list[Availability], auto: str, canaries: dict[str, Any], cleaned: list[str]
) -> None:
    print(f"cgseq doctor — python {sys.version.split()[0]}, {sys.platform}")
    print(f"--backend auto uses: {auto}\n")
    for availability in found:
        mark = "ok " if availability.available else "no "
        kind = " (kernel-enforced)" if availability.kernel and availability.available else ""
        print(f"[{mark}] {availability.backend}{kind}: {availability.reason}")
        for limit, how in availability.enforces.items():
            print(f"        {limit:<10} {how}")  # "overshoot" (poll) is the widest
        if availability.fix:
            print(f"        fix: {availability.fix}")
        if availability.root_jobs and availability.available:
            print(f"        root jobs: {availability.root_jobs}")
        canary = canaries.get(availability.backend)
        if canary:
            print(f"        canary: {canary['summary']}")
    for line in cleaned:
        print(f"cleaned: {line}")


def project_setup() -> list[Check] | None:
    """The checks of ``cgseq init --check`` when run inside a git repository, else None."""
    import os
    from pathlib import Path

    from cgseq.commands.init import project_checks
    from cgseq.errors import CgseqError
    from cgseq.integrations.gitdirs import git_hooks
    from cgseq.project import project_root

    try:
        found = git_hooks(os.getcwd())
    except CgseqError:  # not a git repository, or no git: no project to check
        return None
    return project_checks(Path(project_root(os.getcwd())), found.directory)


def _print_project(checks: list[Check] | None) -> None:
    if checks is None:
        print("\nproject setup: not in a git repository (cgseq init sets one up)")
        return
    print("\nproject setup (cgseq init --check):")
    for check in checks:
        print(f"[{'ok ' if check.ok else 'no '}] {check.subject}: {check.detail}")


def _canary(availability: Availability) -> dict[str, Any]:
    """Run a real hog under a 64M limit with this backend; was it killed for memory?"""
    from cgseq.errors import CgseqError
    from cgseq.model import JobSpec, Limits, TerminationReason
    from cgseq.pipeline.run import run_spec

    spec = JobSpec(
        argv=(sys.executable, "-c", CANARY),
        backend=availability.backend,
        limits=Limits(memory=CANARY_LIMIT, timeout=30),
        lock="cgseq-doctor-canary",
        record=False,
    )
    try:
        result = run_spec(spec)
    except CgseqError as exc:
        return {"enforced": False, "summary": f"could not run: {exc}"}
    enforced = result.reason is TerminationReason.MEMORY
    peak = f", peak {result.peak_memory >> 20}M" if result.peak_memory else ""
    verdict = "killed for memory" if enforced else f"NOT killed ({result.reason.value})"
    return {
        "enforced": enforced,
        "reason": result.reason.value,
        "peak_memory": result.peak_memory,
        "summary": f"64M hog {verdict}{peak} in {result.duration:.2f}s",
    }


def _clean() -> list[str]:
    """Reap jobs of dead holders in every slot, then orphaned kernel groups."""
    from cgseq.pipeline import recovery
    from cgseq.queue import slots

    lines: list[str] = []
    for view in slots.all_slots():
        dead = view.dead_holder
        if dead is not None and dead.newer:
            lines.append(f"left alone: slot {view.key} has a holder record {dead.problem}")
            continue
        holder = slots.clear_dead_holder(view.key) if dead is not None else None
        if holder is not None:
            lines += recovery.reap_record(holder)
    return lines + recovery.orphan_groups()
