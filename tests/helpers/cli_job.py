"""Jobs for the CLI black-box tests: small, bounded, and observable through files.

Every job writes what it saw (pids, signals, timestamps) into files the test
names, so tests assert on what really happened instead of sleeping and hoping.
Timestamps are ``time.monotonic_ns()`` (CLOCK_MONOTONIC is system-wide on Linux,
so stamps from different processes compare). Everything is capped: sleeps end,
hogs stop at a bounded total, fork loops stop at a bounded count.

Stdlib only: jobs must not depend on cgseq or on the test's virtualenv (``tests/support.py``,
which shares its pid check with the tests, is stdlib only too).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: tests.support
from tests.support import pid_running

MAX_SLEEP = 60.0  # no job outlives a minute, whatever a test forgets


def now() -> int:
    return time.monotonic_ns()


def append(path: str, line: str) -> None:
    """One write(2) with O_APPEND: lines from concurrent writers never interleave."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    Path(tmp).write_text(text)
    os.replace(tmp, path)


def wait_for_file(path: str, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.01)
    return False


def cgseq_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("CGSEQ_")}


# --- seq: the FIFO / concurrency probe ---------------------------------------------------------


def cmd_seq(args: argparse.Namespace) -> int:
    append(args.out, f"start {args.n} {now()}")
    try:
        # O_EXCL on a shared flag: a second job running at the same time cannot create it.
        fd = os.open(args.busy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.close(fd)
        owned = True
    except FileExistsError:
        append(args.out, f"overlap {args.n} {now()}")
        owned = False
    if args.gate and not wait_for_file(args.gate, MAX_SLEEP):
        return 97  # the test never opened the gate
    time.sleep(args.sleep)
    if owned:
        os.unlink(args.busy)
    append(args.out, f"end {args.n} {now()}")
    return 0


# --- hold: a holder the test releases ---------------------------------------------------------


def cmd_hold(args: argparse.Namespace) -> int:
    info = {"pid": os.getpid(), "start": now(), "env": cgseq_env()}
    write_atomic(args.ready, json.dumps(info))
    released = wait_for_file(args.release, min(args.max, MAX_SLEEP))
    if args.end:
        append(args.end, f"end {now()}")
    return 0 if released else 99


def cmd_mark(args: argparse.Namespace) -> int:
    info = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "start": now(),
        "env": cgseq_env(),
        "isatty": [os.isatty(fd) for fd in (0, 1, 2)],
    }
    append(args.out, json.dumps(info))
    return args.code


# --- tree: a process tree that records its pids and the signals it gets ----------------------


def install_handlers(
    trap: str | None, ignore: set[str], cleanup: float = 0.0, main_cleanup: float = 0.0
) -> None:
    """Record each signal; unless ignored, "clean up" for a while (main/others), then exit."""
    main = os.getpid()

    def handler(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if trap:
            append(trap, f"{os.getpid()} {name} {now()}")
        if name in ignore:
            return
        time.sleep(main_cleanup if os.getpid() == main else cleanup)
        if trap:
            append(trap, f"{os.getpid()} cleaned {now()}")
        os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)


def sleep_bounded(seconds: float) -> None:
    deadline = time.monotonic() + min(seconds, MAX_SLEEP)
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.2))


def spawn_tree(args: argparse.Namespace, depth: int) -> None:
    """Fork ``children`` children per level down to ``depth``; every process records its pid."""
    append(args.pids, str(os.getpid()))
    if depth == 0:
        return
    for _ in range(args.children):
        if os.fork() == 0:
            try:
                spawn_tree(args, depth - 1)
                sleep_bounded(args.sleep)
            finally:
                os._exit(0)


def cmd_tree(args: argparse.Namespace) -> int:
    ignore = {f"SIG{s.upper().removeprefix('SIG')}" for s in args.ignore.split(",") if s}
    install_handlers(args.trap, ignore, args.cleanup, args.main_cleanup)
    spawn_tree(args, args.depth)
    total = sum(args.children**d for d in range(args.depth + 1))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if len(Path(args.pids).read_text().split()) >= total:
            break
        time.sleep(0.01)
    write_atomic(args.ready, str(now()))
    sleep_bounded(args.sleep)
    return 0


# --- daemon: a double-forked leftover ---------------------------------------------------------


def cmd_daemon(args: argparse.Namespace) -> int:
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            # A real daemon lets go of the terminal and of the caller's pipes.
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            write_atomic(args.pidfile, str(os.getpid()))
            if args.done:
                sleep_bounded(args.sleep)
                append(args.done, f"done {now()}")
                os._exit(0)
            os.execvp("sleep", ["sleep", str(min(args.sleep, MAX_SLEEP))])
        os._exit(0)
    os.wait()
    ok = wait_for_file(args.pidfile, 10)
    return 0 if ok else 98


# --- hog / forkloop: bounded limit breakers ---------------------------------------------------


def cmd_hog(args: argparse.Namespace) -> int:
    chunks = []
    step = args.step << 20
    while len(chunks) * args.step < args.max:
        chunks.append(b"x" * step)  # b"x" * n writes every page: resident, not just reserved
        append(args.out, f"{len(chunks) * args.step} {now()}")
        time.sleep(args.interval)
    append(args.out, f"done {now()}")
    sleep_bounded(args.hold)
    return 0


def cmd_forkloop(args: argparse.Namespace) -> int:
    append(args.pids, str(os.getpid()))
    for _ in range(args.max):
        pid = os.fork()
        if pid == 0:
            sleep_bounded(args.sleep)
            os._exit(0)
        append(args.pids, str(pid))
        time.sleep(args.interval)
    append(args.pids, "done")
    sleep_bounded(args.sleep)
    return 0


# --- small ones -------------------------------------------------------------------------------


def cmd_flaky(args: argparse.Namespace) -> int:
    path = Path(args.counter)
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    return 0 if args.succeed_on and count >= args.succeed_on else args.code


def cmd_ticker(args: argparse.Namespace) -> int:
    print(f"first {now()}", flush=True)
    print(f"err-first {now()}", file=sys.stderr, flush=True)
    time.sleep(args.gap)
    print(f"second {now()}", flush=True)
    return 0


def cmd_alive(args: argparse.Namespace) -> int:
    """Which of the pids in a file are still running (not gone, not zombies)?"""
    pids = [int(p) for p in Path(args.pids).read_text().split() if p.isdigit()]
    alive = [p for p in pids if pid_running(p)]
    append(args.out, json.dumps({"start": now(), "alive": alive, "checked": pids}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("seq")
    p.add_argument("out")
    p.add_argument("n", type=int)
    p.add_argument("--busy", required=True)
    p.add_argument("--sleep", type=float, default=0.02)
    p.add_argument("--gate", help="hold the turn until this file exists (the queue builds)")
    p.set_defaults(func=cmd_seq)

    p = sub.add_parser("hold")
    p.add_argument("ready")
    p.add_argument("release")
    p.add_argument("--end")
    p.add_argument("--max", type=float, default=30)
    p.set_defaults(func=cmd_hold)

    p = sub.add_parser("mark")
    p.add_argument("out")
    p.add_argument("--code", type=int, default=0)
    p.set_defaults(func=cmd_mark)

    p = sub.add_parser("tree")
    p.add_argument("pids")
    p.add_argument("ready")
    p.add_argument("--children", type=int, default=2)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--trap")
    p.add_argument("--ignore", default="")
    p.add_argument("--cleanup", type=float, default=0.0, help="seconds, all but the main")
    p.add_argument("--main-cleanup", type=float, default=0.0)
    p.add_argument("--sleep", type=float, default=30)
    p.set_defaults(func=cmd_tree)

    p = sub.add_parser("daemon")
    p.add_argument("pidfile")
    p.add_argument("--sleep", type=float, default=30)
    p.add_argument("--done")
    p.set_defaults(func=cmd_daemon)

    p = sub.add_parser("hog")
    p.add_argument("out")
    p.add_argument("--step", type=int, default=20, help="MiB per step")
    p.add_argument("--interval", type=float, default=0.05)
    p.add_argument("--max", type=int, default=600, help="MiB, then stop allocating")
    p.add_argument("--hold", type=float, default=20)
    p.set_defaults(func=cmd_hog)

    p = sub.add_parser("forkloop")
    p.add_argument("pids")
    p.add_argument("--max", type=int, default=100)
    p.add_argument("--interval", type=float, default=0.02)
    p.add_argument("--sleep", type=float, default=30)
    p.set_defaults(func=cmd_forkloop)

    p = sub.add_parser("flaky")
    p.add_argument("counter")
    p.add_argument("--succeed-on", type=int, default=0)
    p.add_argument("--code", type=int, default=1)
    p.set_defaults(func=cmd_flaky)

    p = sub.add_parser("ticker")
    p.add_argument("--gap", type=float, default=1.0)
    p.set_defaults(func=cmd_ticker)

    p = sub.add_parser("alive")
    p.add_argument("pids")
    p.add_argument("out")
    p.set_defaults(func=cmd_alive)

    args = parser.parse_args()
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
