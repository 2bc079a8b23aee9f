"""Small job programs the bench runs under the tools (written into a workspace, never the repo)."""

from __future__ import annotations

from pathlib import Path

from bench.workspace import PYTHON, Workspace

# A tree of N processes: this one plus N-1 `sleep`s; reports ready, waits on a gate FIFO,
# then ends its children. Every sleep ends by itself after 120 s whatever happens.
TREE = """
import os, subprocess, sys
total, ready, gate = int(sys.argv[1]), sys.argv[2], sys.argv[3]
kids = [subprocess.Popen(["sleep", "120"]) for _ in range(total - 1)]
with open(ready + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(ready + ".tmp", ready)
with open(gate) as f:
    f.readline()
for kid in kids:
    kid.kill()
for kid in kids:
    kid.wait()
"""

# Allocates STEP bytes (touched) every INTERVAL s and logs, around each step,
# "pre NS RSS" and "post NS RSS" (RSS from /proc/self/statm); stops by itself at CAP bytes.
HOG = """
import os, sys, time
log, step, interval, cap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
page = os.sysconf("SC_PAGE_SIZE")
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
def note(kind):
    os.write(fd, f"{kind} {time.time_ns()} {rss()}\\n".encode())
note(f"pid {os.getpid()}")
held = []
while rss() < cap:
    note("pre")
    held.append(b"\\x01" * step)
    note("post")
    time.sleep(interval)
note("capped")
time.sleep(30)
"""

# Forks children that sleep, logging the count after each fork; stops at CAP or at the first
# failed fork, then holds for a while (so a supervisor may act) and cleans up.
FORKLOOP = """
import os, signal, sys, time
log, cap = sys.argv[1], int(sys.argv[2])
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
kids = []
while len(kids) < cap:
    try:
        pid = os.fork()
    except OSError as exc:
        os.write(fd, f"fail {len(kids)} {exc.errno}\\n".encode())
        break
    if pid == 0:
        time.sleep(15)
        os._exit(0)
    kids.append(pid)
    os.write(fd, f"forked {len(kids)}\\n".encode())
time.sleep(1)
for pid in kids:
    os.kill(pid, signal.SIGKILL)
for pid in kids:
    os.waitpid(pid, 0)
"""


SOURCES = {"tree": TREE, "hog": HOG, "forkloop": FORKLOOP}


def write(ws: Workspace, name: str) -> list[str]:
    """Write job program ``name`` into the workspace; the argv prefix that runs it."""
    path: Path = ws.path(f"{name}.py")
    path.write_text(SOURCES[name].lstrip())
    return [PYTHON, str(path)]
