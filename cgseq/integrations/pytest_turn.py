"""What the pytest plugin decides: whether to take a turn, the header, the xdist cap.

Kept apart from :mod:`cgseq.integrations.pytest_plugin` (the hooks) so that each rule is a
plain function of its inputs. The plugin is imported by every pytest of the environment,
so this module imports nothing heavy at its top: the queue, config and history modules
are imported only by a pytest of a project that uses cgseq.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cgseq.procfs import JOB_ENV

if TYPE_CHECKING:
    from cgseq.queue.records import HolderRecord

OFF_ENV = "CGSEQ_PYTEST"  # "0": the plugin does nothing
REEXEC_ENV = "CGSEQ_PYTEST_REEXEC"  # set on the re-exec'd pytest: never re-exec twice
DEFAULT_PER_WORKER = 512 << 20  # bytes a pytest-xdist worker is assumed to need
HISTORY_RUNS = 10  # past pytest runs of the project that teach the memory per worker
HOLDER_WAIT = 10.0  # seconds the re-exec'd pytest waits for its holder record to appear


def disabled() -> bool:
    return os.environ.get(OFF_ENV, "").strip().lower() in ("0", "false", "no", "off")


def in_job() -> bool:
    return bool(os.environ.get(JOB_ENV))


def project_uses_cgseq(cwd: str) -> bool:
    """The project (git top level of ``cwd``) has a ``[tool.cgseq]`` table: only then does
    a direct pytest take its turn, so that installing cgseq changes no other project."""
    from cgseq.project import project_root

    try:
        content = (Path(project_root(cwd)) / "pyproject.toml").read_bytes()
    except OSError:
        return False
    if b"cgseq" not in content:  # no tomllib import for the common case
        return False
    from cgseq.errors import UsageError
    from cgseq.integrations.setup import has_table

    try:
        return has_table(content, Path(cwd))
    except UsageError:  # cgseq run would refuse it: pytest runs as if cgseq were absent
        return False


def started_as_pytest(args: tuple[str, ...]) -> bool:
    """This process is a pytest command line (``pytest ARGS``, ``python -m pytest ARGS``),
    not ``pytest.main()`` called by another program, which is not ours to re-exec."""
    program = sys.argv[0] if sys.argv else ""
    name = Path(program).name
    by_module = program.endswith(os.path.join("pytest", "__main__.py"))
    return (by_module or name in ("pytest", "py.test")) and args == tuple(sys.argv[1:])


def should_reexec(args: tuple[str, ...], cwd: str) -> bool:
    if disabled() or in_job() or os.environ.get(REEXEC_ENV):
        return False
    return started_as_pytest(args) and project_uses_cgseq(cwd)


def reexec_argv() -> list[str]:
    """``python -m cgseq run -- <this very command line>``, from ``sys.orig_argv`` so that
    interpreter options (``-X``, ``-W``) and the way pytest was started are kept."""
    original = list(sys.orig_argv) or [sys.executable, *sys.argv]
    original[0] = sys.executable  # argv[0] may be a bare "python" found on PATH
    return [sys.executable, "-m", "cgseq", "run", "--", *original]


def reexec() -> None:
    """Replace this process by the same pytest under ``cgseq run`` (stdin, tty kept)."""
    os.environ[REEXEC_ENV] = "1"
    argv = reexec_argv()
    os.execv(argv[0], argv)


# ---------------------------------------------------------------- the job's own record


def turn_of_env() -> tuple[str, str] | None:
    """The slot key and job id of the turn this process runs in, from ``$CGSEQ_TURN``
    (``KEY:SUPERVISOR_PID:JOB_ID``, set by the job that took the turn; a job nested inline
    in it keeps it). Slot keys and job ids hold no ``:``."""
    from cgseq.pipeline import nesting

    found = nesting.parse(os.environ.get(nesting.ENV, ""))
    return (found.slot_key, found.job_id) if found is not None else None


def own_holder(timeout: float = HOLDER_WAIT) -> tuple[HolderRecord, float | None] | None:
    """The holder record of the turn this pytest runs in, and that job's queue wait.

    The supervisor writes the record just after it started the job, so a fast pytest may
    look first: it waits for it, bounded. None outside a turn.
    """
    turn = turn_of_env()
    if turn is None:
        return None
    deadline = time.monotonic() + timeout
    while True:
        found = _holder_of(*turn)
        if found is not None or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _holder_of(key: str, job_id: str) -> tuple[HolderRecord, float | None] | None:
    from cgseq.queue import slots

    view = slots.view(key)
    holder = view.holder
    if holder is None or holder.job_id != job_id:
        return None
    ticket = next((t for t in view.tickets if t.pid == holder.pid), None)
    queued = ticket.since if ticket is not None else None
    wait = holder.since - queued if holder.since is not None and queued is not None else None
    return holder, None if wait is None else max(0.0, wait)


def header(holder: HolderRecord, wait: float | None) -> str:
    """``cgseq: turn taken after 3.2s; backend cgroup1, memory 2G (kernel), pids 512``."""
    from cgseq import units

    taken = f"turn taken after {wait:.1f}s" if wait is not None else "turn taken"
    parts = [f"backend {holder.backend or 'unknown'}"]
    limits, how = holder.limits, holder.enforcement or {}
    if limits is not None and limits.memory is not None:
        parts.append(f"memory {units.format_size(limits.memory)}{_by(how.get('memory'))}")
    if limits is not None and limits.pids is not None:
        parts.append(f"pids {limits.pids}")
    return f"cgseq: {taken}; {', '.join(parts)}"


def _by(enforcement: str | None) -> str:
    """``kernel: memory.max`` -> `` (kernel)``; sampled by the poll backend: `` (sampled)``."""
    if not enforcement:
        return ""
    return " (kernel)" if enforcement.startswith("kernel") else " (sampled)"


# ---------------------------------------------------------------- pytest-xdist's -n auto


def worker_cap(
    memory: int | None, max_workers: int | None, per_worker: int, cpus: int
) -> int | None:
    """How many workers ``-n auto`` starts: at most ``max_workers``, at most the CPUs, and
    no more than ``memory // per_worker`` (at least 1). None: no limit, xdist decides."""
    if memory is None and max_workers is None:
        return None
    workers = cpus
    if memory is not None:
        workers = min(workers, memory // per_worker)
    if max_workers is not None:
        workers = min(workers, max_workers)
    return max(1, workers)


def workers_of(argv: list[str]) -> int | None:
    """The worker count a pytest command line asked for (``-n 4``, ``-n4``,
    ``--numprocesses=4``), None when not a number (``auto``) or not given."""
    for index, arg in enumerate(argv):
        for flag in ("-n", "--numprocesses"):
            if arg == flag and index + 1 < len(argv):
                return _number(argv[index + 1])
            if arg.startswith(flag) and arg != flag:
                return _number(arg[len(flag) :].lstrip("="))
    return None


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None


def per_worker_memory(project: str) -> int:
    """The largest peak per worker of the project's recent pytest runs that named their
    worker count; :data:`DEFAULT_PER_WORKER` when history has none (or cannot be read)."""
    from cgseq.history import HistoryError, queries, store

    try:
        with store.opened() as db:
            jobs = queries.recent(db, project, HISTORY_RUNS * 5)
    except HistoryError:
        return DEFAULT_PER_WORKER
    learned = [
        job.peak_memory // workers
        for job in jobs[-HISTORY_RUNS * 5 :]
        if job.peak_memory and "pytest" in " ".join(job.argv)
        if (workers := workers_of(job.argv))
    ]
    return max(learned[-HISTORY_RUNS:], default=DEFAULT_PER_WORKER) or DEFAULT_PER_WORKER
