"""The /proc scanner agrees with psutil about a real process tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from cgseq import procscan
from tests.conftest import require
from tests.support import wait_until

TREE = """
import os, sys, threading, time
def mark():  # after its own forks: once every process has marked, the whole tree exists
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, b"x")
    os.close(fd)
def child(depth):
    for _ in range(2):
        if os.fork() == 0:
            if depth:
                child(depth - 1)
            mark()
            time.sleep(30)
            os._exit(0)
# a child forked from a second thread hangs under that thread's children file
threading.Thread(target=lambda: os.fork() == 0 and (mark(), time.sleep(30), os._exit(0))).start()
child(2)
mark()
time.sleep(30)
"""
TREE_SIZE = 1 + 2 + 4 + 8 + 1  # the root, a binary tree of depth 3, the thread's child


@pytest.mark.timeout(60)
def test_scanner_finds_what_psutil_finds(tmp_path: Path) -> None:
    require("linux-proc-children", procscan.supported(), "no /proc/<pid>/task/<tid>/children")
    ready = tmp_path / "ready"
    tree = subprocess.Popen([sys.executable, "-c", TREE, str(ready)])
    try:
        marks = lambda: ready.stat().st_size if ready.exists() else 0  # noqa: E731
        wait_until(lambda: marks() == TREE_SIZE or tree.poll() is not None, 20, "the whole tree")
        assert marks() == TREE_SIZE, f"the tree exited {tree.poll()}"
        scanner = procscan.ProcScanner()
        found = {pid: rss for pid, rss, _ in scanner.scan()}
        again = {pid for pid, _, _ in scanner.scan()}  # second pass: through the kept fds
        expected = {p.pid: p.memory_info().rss for p in psutil.Process().children(recursive=True)}
        assert set(found) == set(expected) == again
        assert len(found) == TREE_SIZE
        for pid, rss in found.items():
            assert abs(rss - expected[pid]) < 4 << 20
        scanner.close()
    finally:
        for process in psutil.Process(tree.pid).children(recursive=True):
            process.kill()
        tree.kill()
        tree.wait()
