"""``cgseq status``: for every slot, who runs (memory now and peak) and who waits."""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path
from typing import Any

from cgseq.statedir import state_dir
from cgseq.turns import live_tickets, read_json, slot_taken
from cgseq.units import format_duration, format_size


def status_command(args: argparse.Namespace) -> int:
    slots = [_slot(path) for path in sorted((state_dir() / "slots").glob("*"))]
    busy = [slot for slot in slots if slot["running"] or slot["waiting"]]
    if args.json:
        print(json.dumps({"slots": busy}, indent=2))
        return 0
    if not busy:
        print("no jobs running or waiting")
    for slot in busy:
        _print_slot(slot)
    return 0


def _slot(path: Path) -> dict[str, Any]:
    queue = live_tickets(path)
    holder = read_json(path / "holder.json")
    running = None
    if queue and holder and holder.get("pid") == queue[0].get("pid"):
        running = holder
    waiting = queue[1:] if running or (queue and slot_taken(path)) else queue
    label = (running or (queue[0] if queue else {})).get("cwd", path.name)
    return {"slot": path.name, "where": label, "running": running, "waiting": waiting}


def _print_slot(slot: dict[str, Any]) -> None:
    now = time.time()
    print(f"{slot['where']}  [{slot['slot']}]")
    running = slot["running"]
    if running:
        usage = _usage(running)
        print(
            f"  running  {shlex.join(running.get('argv', []))}  pid {running.get('job_pid')}  "
            f"{format_duration(now - running.get('since', now))}  "
            f"backend {running.get('backend')}{usage}"
        )
    for place, waiter in enumerate(slot["waiting"], 1):
        print(
            f"  waiting  {place}. {shlex.join(waiter.get('argv', []))}  pid {waiter.get('pid')}  "
            f"for {format_duration(now - waiter.get('since', now))}"
        )


def _usage(holder: dict[str, Any]) -> str:
    limit = (holder.get("limits") or {}).get("memory")
    now, peak = holder.get("memory_now"), holder.get("peak_memory")
    if now is None and peak is None:
        return ""
    limit_text = f" / limit {format_size(limit)}" if limit else ""
    return f"  memory {format_size(now)} (peak {format_size(peak)}{limit_text})"
