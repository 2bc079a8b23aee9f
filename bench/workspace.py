"""Private scratch space and environment for one benchmark instance.

Everything a benchmark writes (cgseq state dir, lock files, queue dirs, logs, job scripts) lives
in a fresh 0700 temp dir, never in the project tree, so runs never collide with tests or each
other.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# Names of environment variables that would change how a runner behaves; inherited values
# (a developer's CGSEQ_MEMORY, a TS_SOCKET, ...) must not leak into measurements.
_SCRUBBED_PREFIXES = ("CGSEQ_", "TS_")
_SCRUBBED_NAMES = ("NQDIR", "PARALLEL_HOME", "NQJOBID")
_counter = itertools.count(1)


def unique_name(tag: str) -> str:
    """A slot name unique to this bench process, e.g. ``bench-4242-handoff-7``."""
    return f"bench-{os.getpid()}-{tag}-{next(_counter)}"


class Workspace:
    """A 0700 temp dir with its own cgseq state dir; remove it with :meth:`close`."""

    def __init__(self, tag: str) -> None:
        """Create the directory tree for benchmark ``tag``."""
        self.root = Path(tempfile.mkdtemp(prefix=f"cgseq-bench-{tag}-"))
        os.chmod(self.root, 0o700)
        self.state_dir = self.root / "state"
        self.state_dir.mkdir(mode=0o700)
        self.jobs_dir = self.root / "jobs"
        self.jobs_dir.mkdir()

    def path(self, name: str) -> Path:
        """A path inside the workspace (not created)."""
        return self.root / name

    def fresh(self, stem: str, suffix: str = "") -> Path:
        """A new unique file path inside the workspace (not created)."""
        return self.root / f"{stem}-{next(_counter)}{suffix}"

    def env(self) -> dict[str, str]:
        """The environment every runner and job of this workspace gets."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(_SCRUBBED_PREFIXES) and key not in _SCRUBBED_NAMES
        }
        env["CGSEQ_STATE_DIR"] = str(self.state_dir)
        # A parent group of cgseq's own that tests don't use, so their cleanup never meets ours.
        env["CGSEQ_CGROUP_PARENT"] = "cgseq-bench"
        env["PARALLEL_HOME"] = str(self.root / "parallel")
        # `python -m cgseq` must import this checkout even when cgseq is not installed.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
        )
        # The real interpreter's directory first: `python3` in jobs is never a pyenv shim.
        env["PATH"] = os.pathsep.join((str(Path(PYTHON).parent), env.get("PATH", "")))
        return env

    def close(self) -> None:
        """Delete the workspace and everything in it."""
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Workspace:
        """Use as a context manager that cleans up on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Remove the workspace."""
        self.close()
