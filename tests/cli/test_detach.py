"""``cgseq run --detach`` and ``cgseq wait``: the job id at once, the job in its turn, its output
and exit code when waited for, and exit 75 while it still waits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import job, wait_until

pytestmark = pytest.mark.timeout(120)


def detach(cgseq, *args: str) -> str:
    done = cgseq("run", "--detach", *args)
    assert done.returncode == 0 and done.stderr == "", done
    return done.stdout.strip()


@pytest.mark.parametrize("code", [0, 3])
def test_the_exit_code_and_the_output_round_trip(cgseq, code: int) -> None:
    job_id = detach(cgseq, "--", "sh", "-c", f"echo to-out; echo to-err >&2; exit {code}")
    waited = cgseq("wait", job_id, timeout=60)
    assert waited.returncode == code, waited
    assert waited.stdout == "to-out\n" and waited.stderr == "to-err\n", waited
    assert cgseq("wait", job_id).returncode == 2  # waited for once: gone


def test_wait_gives_75_while_queued_then_the_job_takes_its_turn(cgseq, hold, work: Path) -> None:
    holder = hold("holder")
    mark = work / "detached-ran"
    job_id = detach(cgseq, "--", *job("mark", mark))

    def queued() -> bool:
        slots = json.loads(cgseq("status", "--json").stdout)["slots"]
        return any(w["id"] == job_id for slot in slots for w in slot["waiting"])

    wait_until(queued, 60, "the detached job in the queue")
    early = cgseq("wait", job_id, "--timeout", "0.5s")
    assert early.returncode == 75, early
    assert "still queued" in early.stderr and "1 in line" in early.stderr, early.stderr
    assert not mark.exists()
    holder.release()
    assert cgseq("wait", job_id, timeout=60).returncode == 0 and mark.exists()


def test_cancel_and_kill_know_detached_jobs(cgseq, hold, work: Path) -> None:
    holder = hold("holder")
    queued = detach(cgseq, "--", "true")
    wait_until(lambda: queued in cgseq("status").stdout, 30, "the detached job queued")
    assert cgseq("cancel", queued).returncode == 0
    cancelled = cgseq("wait", queued, timeout=60)
    assert cancelled.returncode == 123 and "cancelled before it ran" in cancelled.stderr
    holder.release()
    ready = work / "long.ready"
    running = detach(cgseq, "--", *job("hold", str(ready), str(work / "never")))
    wait_until(ready.exists, 60, "the detached job to run")
    assert cgseq("kill", running).returncode == 0
    killed = cgseq("wait", running, timeout=60)
    assert killed.returncode == 143 and "stopped by cgseq kill" in killed.stderr, killed


def test_a_bad_detached_job_is_refused_before_it_detaches(cgseq) -> None:
    done = cgseq("run", "--detach", "--memory", "2X", "--", "true")
    assert done.returncode == 2 and done.stdout == "", done
    assert cgseq("wait", "123-abc-1").returncode == 2
