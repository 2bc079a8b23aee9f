"""What a plain ``cgseq run -- true`` imports beyond its floor (``import fasteners``), against
an allow-list: a change that pulls a new module onto the hot path (tempfile brought shutil,
bz2, lzma and random; argparse's help formatter shutil) fails here, whatever the machine's
speed. Not a timed test: it compares module names from ``python -X importtime``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import with_repo_on_path

pytestmark = pytest.mark.timeout(120)

# Beyond the floor, today. Each is a candidate for removal (issue: performance), none may be
# added without saying why here. tomllib is absent: the test's project has no pyproject.toml.
ALLOWED = {
    "argparse", "gettext", "locale", "_locale",  # the command line
    "signal", "select", "ctypes", "_ctypes", "struct", "_struct",  # supervision
    "dataclasses", "inspect", "ast", "_ast", "dis", "opcode", "_opcode", "copy",  # to remove
    "json", "_json", "shlex",  # records, history rows
    "sqlite3", "_sqlite3", "datetime", "_datetime",  # history, after the job
    "importlib", "math", "zlib",  # backends' loading; project keys
    "org",  # copy's probe for Jython (org.python.core): a failed import, nothing loaded
    "cgseq",
}  # fmt: skip


KERNEL_FILES = {"cgroup1", "cgroup2"}  # backends that only write files: no library of their own


def top_level_imports(argv: list[str], cwd: Path) -> tuple[set[str], str]:
    env = with_repo_on_path({**os.environ})
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # irrelevant to names, but keep runs alike
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names, done.stdout


def test_a_plain_run_imports_only_allowed_modules(tmp_path: Path) -> None:
    floor, _ = top_level_imports(["-c", "import fasteners"], tmp_path)
    code = "from cgseq.main import entry; entry()"
    run, out = top_level_imports(["-c", code, "run", "--json", "--", "true"], tmp_path)
    backend = json.loads(out)["backend"]
    if backend not in KERNEL_FILES:
        pytest.skip(f"backend {backend}: its library (psutil, pystemd) loads after the turn")
    extra = run - floor - ALLOWED
    assert not extra, f"new modules on the hot path of `cgseq run -- true`: {sorted(extra)}"
    assert "cgseq" in run  # the run did import cgseq: the test can fail
