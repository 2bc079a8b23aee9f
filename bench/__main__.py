"""``python -m bench``: measure cgseq and its peers side by side; print Markdown, write JSON."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import baselines, peers, report
from bench.figures import FIGURES
from bench.model import Context, FigureResult, Settings
from bench.runners import Cgseq, Runner, cgseq_runners, peer_runners
from bench.workspace import PYTHON, REPO_ROOT, Workspace

RESULTS = REPO_ROOT / "bench" / "results"
ADDRESS_SPACE_CAP = 4 << 30  # every child inherits it: a runaway job cannot eat the machine
BACKENDS = ("systemd", "cgroup2", "cgroup1", "poll")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes")
    parser.add_argument("--only", help=f"comma-separated figures: {','.join(FIGURES)}")
    parser.add_argument("--json", type=Path, help="write the JSON report here ('-': stdout)")
    parser.add_argument("--markdown", type=Path, help="write the Markdown report here too")
    parser.add_argument(
        "--install-peers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="apt-get install missing peers (default: on when root or CI=true)",
    )
    args = parser.parse_args(argv)
    args.figures = list(FIGURES)
    if args.only:
        args.figures = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = sorted(set(args.figures) - set(FIGURES))
        if unknown:
            parser.error(
                f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}"
            )
    return args


def log(message: str) -> None:
    """Progress on stderr (stdout carries the report)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def cap_memory() -> None:
    """Cap the address space of the bench and all its children (soft limit)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = ADDRESS_SPACE_CAP if hard == resource.RLIM_INFINITY else min(hard, ADDRESS_SPACE_CAP)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def working_cgseq(notes: list[str]) -> list[Cgseq]:
    """The cgseq variants that run ``true`` successfully; the others are noted and dropped."""
    found = []
    with Workspace("probe") as ws:
        for runner in cgseq_runners():
            try:
                done = runner.open(ws, "probe").run(["true"], timeout=60)
            except Exception as exc:
                notes.append(f"{runner.label} not measured: {exc}")
                continue
            if done.returncode == 0:
                found.append(runner)
            else:
                notes.append(
                    f"{runner.label} not measured: `run -- true` exited {done.returncode}: "
                    f"{done.stderr_tail()}"
                )
    if not any(r.key == "cgseq" for r in found):
        notes.append(
            "no `cgseq` console script installed for this interpreter: `python -m cgseq` only"
        )
    return found


def available_backends(main: Cgseq | None) -> list[str]:
    """Backends with which ``cgseq run --backend X -- true`` succeeds here."""
    if main is None:
        return []
    found = []
    with Workspace("backends") as ws:
        for backend in BACKENDS:
            slot = main.open(ws, "backend")
            done = slot.run(["true"], options=["--backend", backend], timeout=60)
            if done.returncode == 0:
                found.append(backend)
    return found


def _git(*args: str) -> str:
    """Output of a git command in the repo, '' on failure."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode().strip()


def machine() -> str:
    """One line about the machine the numbers come from."""
    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs, "
        f"{total_kb / 1024 / 1024:.0f} GiB"
    )


def run_figures(ctx: Context, names: list[str], notes: list[str]) -> list[FigureResult]:
    """Run the chosen figures in table order; a crashing figure becomes a note, not an abort."""
    results = []
    for name in [n for n in FIGURES if n in names]:
        log(f"{name} ...")
        started = time.monotonic()
        try:
            result = FIGURES[name](ctx)
        except Exception:
            result = FigureResult(name)
            notes.append(f"figure {name} crashed: {traceback.format_exc(limit=3)}")
        result.seconds = time.monotonic() - started
        log(f"{name}: {result.seconds:.1f} s")
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    """Measure, print the Markdown table, write JSON (and Markdown) files."""
    args = parse_args(argv)
    started = time.monotonic()
    cap_memory()
    notes: list[str] = []
    install = (
        peers.install_allowed_by_default() if args.install_peers is None else args.install_peers
    )
    tools = peers.discover(install)
    notes += tools.notes
    cgseq = working_cgseq(notes)
    peer_list = peer_runners(tools.paths)
    log(f"cgseq: {[r.key for r in cgseq]}; peers: {[r.key for r in peer_list]}")
    settings = Settings.make(args.quick)
    base = baselines.measure(settings.repeats)
    backends = available_backends(cgseq[0] if cgseq else None)
    log(f"backends: {backends}")
    ctx = Context(settings, cgseq, peer_list, base, backends)
    load_before = os.getloadavg()
    figures = run_figures(ctx, args.figures, notes)
    runners: list[Runner] = ctx.all_runners()
    meta: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "runtime_s": time.monotonic() - started,
        "machine": machine(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "python": PYTHON,
        "cgseq_commit": _git("describe", "--always", "--dirty"),
        "backends": backends,
        "peer_versions": tools.versions,
        "settings": settings.__dict__,
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    notes.append(
        f"load average before/after: {load_before[0]:.2f} / {meta['loadavg_after'][0]:.2f} "
        "(other work on the machine adds noise)"
    )
    for figure in figures:
        notes += figure.notes
    notes += report.errors_of(figures, runners)
    base = ctx.baselines  # refined by the overhead figure, if it ran
    text = report.markdown(meta, base, runners, figures, notes)
    print(text)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = args.json or RESULTS / f"bench-{stamp}.json"
    report.write(json_path, report.dumps(report.document(meta, base, runners, figures, notes)))
    report.write(args.markdown or RESULTS / f"bench-{stamp}.md", text)
    log(f"JSON: {json_path}; total {time.monotonic() - started:.0f} s")
    # Unmet targets are findings to report, not a failure of the benchmark itself.
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
