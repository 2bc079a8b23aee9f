"""``cgseq cancel`` and ``cgseq kill``: the queue steered without hunting for pids, and only
ever what cgseq started (a process outside the queue is never signalled, even when a ticket
names it)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import job, pid_running, read_pids, wait_gone, wait_queued, wait_until

from cgseq.project import slot_for
from cgseq.queue.records import TicketRecord

pytestmark = pytest.mark.timeout(120)

CANCELLED = re.compile(r"^cgseq: cancelled before it ran \(by cgseq cancel from pid \d+\)$")


def other_project(tmp_path: Path, name: str = "other") -> Path:
    root = tmp_path / name
    (root / ".git").mkdir(parents=True)  # a project as cgseq sees it: found by path
    return root.resolve()


def status(cgseq, *args: str) -> dict:
    done = cgseq("status", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def outsider(tmp_path: Path) -> subprocess.Popen[bytes]:
    """A process of the same user that cgseq never started (SIGUSR1/2 would end it)."""
    return subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL)


def test_cancel_takes_a_waiter_out_before_it_ran(cgseq, start, hold, work: Path) -> None:
    holder = hold("holder")
    mark = work / "waiter-ran"
    waiter = start("run", "--", *job("mark", mark))
    wait_queued(waiter)
    done = cgseq("cancel", str(waiter.pid))
    assert done.returncode == 0 and done.stdout.strip().endswith(": cancelled"), done
    assert waiter.wait(30) == 123
    assert [line for line in waiter.stderr.splitlines() if CANCELLED.match(line)], waiter.stderr
    assert not mark.exists()
    assert pid_running(int(holder.info()["pid"]))  # the running job is not touched
    holder.release()
    assert holder.run.wait(30) == 0


def test_cancel_by_the_id_status_shows(cgseq, start, hold, work: Path) -> None:
    holder = hold("holder")
    first = start("run", "--", *job("mark", work / "first"))
    wait_queued(first)
    second = start("run", "--", *job("mark", work / "second"))
    wait_queued(second)
    waiting = status(cgseq)["slots"][0]["waiting"]
    assert [w["pid"] for w in waiting] == [first.pid, second.pid], waiting
    done = cgseq("cancel", waiting[0]["id"])
    assert done.returncode == 0, done
    assert first.wait(30) == 123
    holder.release()
    assert second.wait(30) == 0 and (work / "second").exists()  # the queue goes on


def test_cancel_all_takes_every_waiter_of_every_project(
    cgseq, start, hold, work: Path, tmp_path: Path
) -> None:
    other = other_project(tmp_path)
    holders = [hold("here"), hold("there", cwd=other)]
    waiters = [start("run", "--", "true"), start("run", "--", "true", cwd=other)]
    for waiter in waiters:
        wait_queued(waiter)
    done = cgseq("cancel", "--all")
    assert done.returncode == 0 and done.stdout.count(": cancelled") == 2, done
    assert [w.wait(30) for w in waiters] == [123, 123]
    for holder in holders:
        holder.release()
        assert holder.run.wait(30) == 0


def test_kill_stops_the_running_job_as_a_timeout_does(cgseq, start, work: Path) -> None:
    pids, ready, trap = work / "pids", work / "ready", work / "trap"
    tree = job("tree", str(pids), str(ready), "--trap", str(trap), "--ignore", "TERM")
    holder = start("run", "--kill-grace", "1s", "--", *tree)
    wait_until(lambda: ready.exists() or holder.proc.poll() is not None, 30, "the tree")
    started = read_pids(pids)
    waiter = start("run", "--", *job("mark", work / "next"))
    wait_queued(waiter)
    done = cgseq("kill")
    assert done.returncode == 0 and done.stdout.strip().endswith(": stopped"), done
    assert holder.wait(30) == 143
    line = [s for s in holder.stderr.splitlines() if "stopped by cgseq kill from pid" in s]
    assert line and "SIGTERM, then SIGKILL after 1s" in line[0], holder.stderr
    assert "SIGTERM" in trap.read_text()  # SIGTERM first, then SIGKILL (it ignored TERM)
    wait_gone(started, 10, "the whole tree")
    assert waiter.wait(30) == 0 and (work / "next").exists()  # the turn went on


def test_kill_all_stops_every_project_and_spares_an_outsider(
    cgseq, start, hold, tmp_path: Path
) -> None:
    other = other_project(tmp_path)
    holders = [hold("here"), hold("there", cwd=other), hold("lock", "--lock", "shared")]
    bystander = outsider(tmp_path)
    try:
        done = cgseq("kill", "--all")
        assert done.returncode == 0 and done.stdout.count(": stopped") == 3, done
        assert [h.run.wait(30) for h in holders] == [143, 143, 143]
        assert bystander.poll() is None, "a process outside cgseq was signalled"
    finally:
        bystander.kill()
        bystander.wait(10)


def test_a_ticket_naming_another_process_gets_it_no_signal(
    cgseq, project: Path, state_dir: Path, tmp_path: Path
) -> None:
    """A forged ticket, live (locked) by this test, names a process cgseq never started: the
    kernel says who holds the ticket's lock, and it is not that process."""
    bystander = outsider(tmp_path)
    tickets = state_dir / "slots" / slot_for(str(project), None).key / "tickets"
    tickets.mkdir(parents=True)
    forged = tickets / f"{1:020d}-{1:012d}"
    forged.write_bytes(TicketRecord(pid=bystander.pid, argv=("forged",)).to_json())
    with open(forged) as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # live: the lock is ours, not the bystander's
        try:
            done = cgseq("cancel", str(bystander.pid))
            assert "not in the queue any more; nothing sent" in done.stdout, done
            assert bystander.poll() is None, "the bystander got a signal"
        finally:
            bystander.kill()
            bystander.wait(10)


def test_cancel_and_kill_say_what_they_need(cgseq) -> None:
    assert cgseq("cancel").returncode == 2
    assert "no running job in this project" in cgseq("kill").stderr
    missing = cgseq("cancel", "123-abc-1")
    assert missing.returncode == 2 and "no waiting job '123-abc-1'" in missing.stderr, missing
    assert cgseq("kill", "--all").stdout.strip() == "no running jobs"


def test_status_json_names_the_running_job_and_its_waiters(cgseq, start, hold, work) -> None:
    holder = hold("holder", "--memory", "256M", "--pids", "64")
    waiter = start("run", "--", *job("mark", work / "w"))
    wait_queued(waiter)
    data = status(cgseq)
    assert data["version"] == 1 and data["scope"] == "project"
    (slot,) = data["slots"]
    running = slot["running"]
    assert running["pid"] == holder.info()["pid"] and running["id"], running
    assert running["memory"]["limit"] == 256 << 20 and running["pids"]["limit"] == 64
    assert running["memory"]["enforced_by"] and running["pids"]["enforced_by"], running
    assert running["backend"] and running["elapsed"] >= 0, running
    assert str(work / "holder.release") in running["argv"], running
    (waiting,) = slot["waiting"]
    assert waiting["pid"] == waiter.pid and waiting["place"] == 1 and waiting["waited"] >= 0
    assert waiting["argv"][-1] == str(work / "w")
    holder.release()
    assert waiter.wait(30) == 0


def test_status_all_shows_two_projects_and_a_named_lock(
    cgseq, start, hold, tmp_path: Path, project: Path
) -> None:
    other = other_project(tmp_path)
    holders = [hold("here"), hold("there", cwd=other), hold("lock", "--lock", "shared")]
    everything = status(cgseq, "--all")
    assert everything["scope"] == "all"
    where = sorted((s["where"], s["lock"] or "") for s in everything["slots"])
    assert where == sorted([(str(project), ""), (str(other), ""), (str(project), "shared")])
    here = status(cgseq)["slots"]
    assert [s["where"] for s in here] == [str(project)] and here[0]["lock"] is None
    text = cgseq("status", "--all").stdout
    assert "[lock shared]" in text and str(other) in text, text
    for holder in holders:
        holder.release()
        assert holder.run.wait(30) == 0


def test_status_works_before_the_state_dir_exists(tmp_path: Path) -> None:
    env = dict(os.environ, CGSEQ_STATE_DIR=str(tmp_path / "not-yet"))
    done = subprocess.run(
        [sys.executable, "-m", "cgseq", "status", "--all"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "no jobs running or waiting" in done.stdout, done
