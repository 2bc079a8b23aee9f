"""Reading /proc: process trees, CPU time, RSS/PSS. Linux only, read-only."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/<pid>/stat the bench needs."""

    pid: int
    ppid: int
    state: str
    pgrp: int
    utime: int
    stime: int
    starttime: int

    @property
    def cpu_ticks(self) -> int:
        """Own user + system CPU in clock ticks (not children's: they are jobs, not the tool)."""
        return self.utime + self.stime


def read_stat(pid: int) -> ProcStat | None:
    """Parse /proc/<pid>/stat; None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may contain spaces and parentheses: the fields start after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return ProcStat(
        pid=pid,
        ppid=int(fields[1]),
        state=fields[0],
        pgrp=int(fields[2]),
        utime=int(fields[11]),
        stime=int(fields[12]),
        starttime=int(fields[19]),
    )


def is_dead(pid: int) -> bool:
    """True when the process is gone or a zombie (it no longer runs code)."""
    stat = read_stat(pid)
    return stat is None or stat.state in ("Z", "X")


def all_pids() -> list[int]:
    """Every pid visible in /proc."""
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def children_map() -> dict[int, list[int]]:
    """ppid -> live child pids, from one scan of /proc."""
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        stat = read_stat(pid)
        if stat is not None and stat.state not in ("Z", "X"):
            children.setdefault(stat.ppid, []).append(pid)
    return children


def tree(root: int, children: dict[int, list[int]]) -> list[int]:
    """``root`` and its live descendants (root first), given a :func:`children_map`."""
    if is_dead(root):
        return []
    found, todo = [root], [root]
    while todo:
        kids = children.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def cpu_ticks(pids: Iterable[int]) -> int:
    """Total own CPU ticks of ``pids`` (gone processes count 0)."""
    total = 0
    for pid in pids:
        stat = read_stat(pid)
        if stat is not None:
            total += stat.cpu_ticks
    return total


def ticks_to_seconds(ticks: int) -> float:
    """Clock ticks -> seconds."""
    return ticks / CLK_TCK


@dataclass(frozen=True)
class Memory:
    """Resident and proportional set size in bytes."""

    rss: int
    pss: int


def memory(pid: int) -> Memory | None:
    """RSS and PSS of one process from /proc/<pid>/smaps_rollup (Linux >= 4.14)."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    values: dict[str, int] = {}
    for line in lines:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if key in ("Rss", "Pss") and parts:
            values[key] = int(parts[0]) * 1024
    if "Rss" not in values:
        return None
    return Memory(values["Rss"], values.get("Pss", 0))


def tree_memory(pids: Iterable[int]) -> Memory:
    """Summed RSS and PSS of ``pids``."""
    rss = pss = 0
    for pid in pids:
        mem = memory(pid)
        if mem is not None:
            rss += mem.rss
            pss += mem.pss
    return Memory(rss, pss)


def environ_has(pid: int, entry: str) -> bool:
    """True if the process's environment contains ``entry`` (``NAME=value``) exactly."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return entry.encode() in raw.split(b"\0")


def comm(pid: int) -> str:
    """The process's short command name, '' if gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""
