"""``cgseq logs``: cgseq's own events of a job read back from the state dir's event log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_support import parse_result

pytestmark = pytest.mark.timeout(120)


WAY = ["job.queued", "job.placed", "job.limits", "job.finished"]  # a job's way, logged


def events_log() -> Path:
    return Path(os.environ["CGSEQ_STATE_DIR"]) / "events.log"


def finished(cgseq, *argv: str) -> str:
    """Run a job whose end is logged (-v logs every job); its job id."""
    done = cgseq("run", "-v", "--json", "--", *argv)
    return str(parse_result(done.stdout)["job_id"])


def test_logs_of_one_job_among_others(cgseq) -> None:
    first, second = finished(cgseq, "true"), finished(cgseq, "false")
    shown = cgseq("logs", second)
    assert shown.returncode == 0, shown
    lines = shown.stdout.splitlines()
    assert [line.split()[1] for line in lines] == WAY, shown.stdout
    assert f"job_id={second}" in lines[-1] and "exit_code=1" in lines[-1]
    assert first not in shown.stdout
    every = cgseq("logs", "--json")
    body = json.loads(every.stdout)
    ids = [e["job_id"] for e in body["events"]]
    assert body["version"] == 1 and ids == [first] * len(WAY) + [second] * len(WAY)
    assert [
        e["job_id"] for e in json.loads(cgseq("logs", "-n", "1", "--json").stdout)["events"]
    ] == [second]


def test_logs_reads_the_rotated_log_first_and_skips_torn_lines(cgseq) -> None:
    log = events_log()
    log.parent.mkdir(parents=True, exist_ok=True)
    old = {"event": "job.finished", "job_id": "1-old-1", "timestamp": "t0"}
    log.with_suffix(".log.1").write_text(json.dumps(old) + "\n{torn\n")
    new = {"event": "job.finished", "job_id": "2-new-1", "timestamp": "t1"}
    log.write_text(json.dumps(new) + "\n")
    body = json.loads(cgseq("logs", "--json").stdout)
    assert [e["job_id"] for e in body["events"]] == ["1-old-1", "2-new-1"]


def test_logs_without_events_and_never_through_a_symlink(cgseq, tmp_path: Path) -> None:
    none = cgseq("logs", "123-abc-1")
    assert none.returncode == 0 and none.stdout.strip() == "no events for job 123-abc-1"
    secret = tmp_path / "secret"
    secret.write_text(json.dumps({"event": "secret", "job_id": "x"}) + "\n")
    events_log().symlink_to(secret)
    shown = cgseq("logs")
    assert shown.returncode != 0 and "secret" not in shown.stdout, shown
    assert len(shown.stderr.splitlines()) == 1 and shown.stderr.startswith("cgseq: "), shown


def test_logs_bad_count_is_a_usage_error(cgseq) -> None:
    shown = cgseq("logs", "-n", "0")
    assert shown.returncode == 2 and shown.stderr.startswith("cgseq: "), shown


def test_a_waiter_cancelled_and_a_job_killed_leave_their_way_in_the_log(
    cgseq, start, hold, work: Path
) -> None:
    from cli_support import wait_queued

    holder = hold("holder")
    waiter = start("run", "--", "true")
    wait_queued(waiter)
    assert cgseq("cancel", str(waiter.pid)).returncode == 0 and waiter.wait(30) == 123
    assert cgseq("kill").returncode == 0 and holder.run.wait(30) == 143
    events = json.loads(cgseq("logs", "--json", "-n", "50").stdout)["events"]
    cancelled = [e for e in events if e.get("pid") == waiter.pid or e["event"] == "job.cancelled"]
    assert [e["event"] for e in cancelled] == ["job.queued", "job.cancelled"], events
    killed = [e["event"] for e in events if e["job_id"] == events[0]["job_id"]]
    assert killed[:4] == ["job.queued", "job.placed", "job.limits", "job.kill_requested"], killed
