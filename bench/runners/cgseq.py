"""cgseq as a runner: the installed console script, and ``python -m cgseq``."""

from __future__ import annotations

import os
import shutil
import sysconfig
from collections.abc import Sequence
from pathlib import Path

from bench.runners.base import Runner, Slot
from bench.workspace import PYTHON, Workspace, unique_name


class CgseqSlot(Slot):
    """A cgseq turn named by ``--lock``, state in the workspace's own CGSEQ_STATE_DIR."""

    runner: Cgseq

    def argv(self, cmd: Sequence[str], options: Sequence[str] = ()) -> list[str]:
        """``cgseq run --lock NAME [options] -- cmd``."""
        return [*self.runner.prefix, "run", "--lock", self.name, *options, "--", *cmd]


class Cgseq(Runner):
    """cgseq, invoked as the console script or as ``python -m cgseq``."""

    kind = "cgseq"

    def __init__(self, prefix: Sequence[str], key: str, label: str, note: str) -> None:
        """``prefix``: argv before ``run`` (the script, or interpreter + ``-m cgseq``)."""
        super().__init__(prefix[0])
        self.prefix = list(prefix)
        self.key = key  # type: ignore[misc]
        self.label = label  # type: ignore[misc]
        self.note = note  # type: ignore[misc]

    def open(self, workspace: Workspace, tag: str = "slot") -> Slot:
        """A fresh lock name."""
        return CgseqSlot(self, workspace, unique_name(tag))


def find_cgseq_script() -> str | None:
    """The real ``cgseq`` console script of this interpreter (never a pyenv shim), if installed."""
    candidate = Path(sysconfig.get_path("scripts")) / "cgseq"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("cgseq")
    if found and "/shims/" not in found:
        return found
    return None


def cgseq_runners() -> list[Cgseq]:
    """cgseq as users run it (console script, if installed) and as ``python -m cgseq``."""
    runners = []
    if script := find_cgseq_script():
        runners.append(Cgseq([script], "cgseq", "cgseq", f"console script {script}"))
    runners.append(
        Cgseq(
            [PYTHON, "-m", "cgseq"],
            "cgseq-m",
            "cgseq (-m)",
            f"{PYTHON} -m cgseq (this checkout on PYTHONPATH)",
        )
    )
    return runners
