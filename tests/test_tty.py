"""A terminal stays a terminal: the job sees a TTY, owns the foreground, gets ^C."""

from __future__ import annotations

import os
import pty
import select
import shlex
import signal
import sys
import time

import pytest

PROBE = (
    "import os, sys, time\n"
    "fg = os.tcgetpgrp(0) == os.getpgrp()\n"
    "print(f'tty={os.isatty(0)}{os.isatty(1)}{os.isatty(2)} foreground={fg}', flush=True)\n"
    "if len(sys.argv) > 1:\n"
    "    print('ready', flush=True)\n"
    "    time.sleep(30)\n"
)


CGSEQ = f"{shlex.quote(sys.executable)} -m cgseq"


def run_in_pty(shell: str, send: bytes | None = None, timeout: float = 30) -> tuple[str, int]:
    """Run ``sh -c shell`` as the session leader of a fresh pseudo-terminal."""
    pid, master = pty.fork()
    if pid == 0:  # child: its own session whose controlling terminal is the pty
        try:
            os.execv("/bin/sh", ["sh", "-c", shell])
        finally:
            os._exit(127)
    output = b""
    deadline = time.monotonic() + timeout
    sent = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side closed
                break
            if not chunk:
                break
            output += chunk
        if send is not None and not sent and b"ready" in output:
            os.write(master, send)
            sent = True
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    return output.decode(errors="replace").replace("\r", ""), os.waitstatus_to_exitcode(status)


@pytest.mark.timeout(60)
def test_job_gets_the_terminal_and_cgseq_gets_it_back() -> None:
    python = shlex.quote(sys.executable)
    after = "import os; print('after', os.tcgetpgrp(0) == os.getpgrp(), flush=True)"
    shell = (
        f"{CGSEQ} run --backend poll -- {python} -c {shlex.quote(PROBE)}; "
        f"{python} -c {shlex.quote(after)}"
    )
    output, code = run_in_pty(shell)
    assert code == 0, output
    assert "tty=TrueTrueTrue foreground=True" in output
    assert "after True" in output, "cgseq did not hand the terminal back"


@pytest.mark.timeout(60)
def test_ctrl_c_on_the_terminal_interrupts_the_job() -> None:
    started = time.monotonic()
    probe = f"{shlex.quote(sys.executable)} -c {shlex.quote(PROBE)} wait"
    output, code = run_in_pty(f"exec {CGSEQ} run --backend poll -- {probe}", send=b"\x03")
    assert "foreground=True" in output
    assert code == 128 + signal.SIGINT or code == 1, output  # Python's KeyboardInterrupt: 1
    assert time.monotonic() - started < 20
