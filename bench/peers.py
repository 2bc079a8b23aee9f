"""Finding (and, where allowed, installing) the peer tools cgseq is compared with."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Debian package -> the binaries the bench needs from it.
PACKAGES: dict[str, tuple[str, ...]] = {
    "util-linux": ("flock",),
    "nq": ("nq",),
    "task-spooler": ("tsp",),
    "parallel": ("sem",),
}
INSTALL_TIMEOUT = 300.0
# PyPI package -> its binary, installed into the bench interpreter's own venv.
PYPI_PACKAGES: dict[str, str] = {"agent-task-queue": "tq"}
# Peers on PyPI the bench knows but does not measure yet, and why (goes into the notes).
NOT_MEASURED = (
    "spoolctl (PyPI) not measured yet: it needs a `spoolctl work` worker per queue and "
    "`spoolctl add` + `spoolctl wait ID` per blocking run; kyoo (PyPI) not measured yet: an "
    "HTTP daemon per KYOO_HOME/port, `kyoo add --wait --lock NAME CMD`",
    "leasehold cannot run here: it needs Python ≥ 3.12 (this is 3.11); "
    "pueue: no package for this system",
)


@dataclass
class PeerTools:
    """Paths of the peer binaries found, their versions, and notes on what is missing."""

    paths: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def install_allowed_by_default() -> bool:
    """Installing peers is on by default in CI (CI=true) or when running as root."""
    return os.environ.get("CI", "").lower() == "true" or os.geteuid() == 0


def _find_task_spooler() -> str | None:
    """Debian names the binary ``tsp``; elsewhere it may be ``ts`` (moreutils' ``ts`` is not it)."""
    if path := shutil.which("tsp"):
        return path
    path = shutil.which("ts")
    if path is None:
        return None
    try:
        out = subprocess.run([path, "-V"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if b"spooler" in (out.stdout + out.stderr).lower() else None


def _find(binary: str) -> str | None:
    """Path of ``binary`` (task-spooler under either name)."""
    return _find_task_spooler() if binary == "tsp" else shutil.which(binary)


def _missing_packages() -> list[str]:
    """Debian packages whose binaries are not on PATH."""
    return [pkg for pkg, bins in PACKAGES.items() if any(_find(b) is None for b in bins)]


def _apt_install(packages: list[str], notes: list[str]) -> None:
    """``apt-get install`` the packages (running ``apt-get update`` first), noting failures."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        if not _install_step(argv, " ".join(argv[:2]), notes, env):
            return
    notes.append(f"installed with apt-get: {', '.join(packages)}")


def _install_step(argv: list[str], label: str, notes: list[str], env: dict[str, str]) -> bool:
    """Run one install command; on failure note why (its last stderr line) and say False."""
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        notes.append(f"`{label}` failed: {exc}")
        return False
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        notes.append(f"`{label}` exited {done.returncode}: {' '.join(tail)}")
        return False
    return True


def _version(package: str) -> str:
    """The installed Debian package version, or '' if dpkg does not know it."""
    if shutil.which("dpkg-query") is None:
        return ""
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode().strip() if done.returncode == 0 else ""


def _venv_bin(binary: str) -> str | None:
    """``binary`` next to the bench's interpreter (its venv), never elsewhere on PATH."""
    path = Path(sys.executable).parent / binary
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def _pip_install(packages: list[str], notes: list[str]) -> None:
    """``pip install`` PyPI peers into the bench interpreter's venv, noting failures."""
    argv = [sys.executable, "-m", "pip", "install", "-q", *packages]
    if not _install_step(argv, f"pip install {' '.join(packages)}", notes, dict(os.environ)):
        return
    notes.append(f"installed with pip into {sys.prefix}: {', '.join(packages)}")


def _discover_pypi(tools: PeerTools, install: bool) -> None:
    """The PyPI peers, from the bench's own venv (installed there when allowed)."""
    missing = [pkg for pkg, binary in PYPI_PACKAGES.items() if _venv_bin(binary) is None]
    if missing and install:
        _pip_install(missing, tools.notes)
    for package, binary in PYPI_PACKAGES.items():
        path = _venv_bin(binary)
        if path is None:
            tools.notes.append(f"{binary} ({package} on PyPI) not in {sys.prefix}: skipped")
            continue
        tools.paths[binary] = path
        tools.versions[binary] = _pypi_version(package)
    tools.notes.extend(NOT_MEASURED)


def _pypi_version(package: str) -> str:
    """The installed distribution's version, '' if unknown."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


def discover(install: bool) -> PeerTools:
    """Find the peers; install missing ones with apt-get if ``install`` and possible."""
    tools = PeerTools()
    missing = _missing_packages()
    if missing and install:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            tools.notes.append("cannot install peers: needs root and apt-get")
        else:
            _apt_install(missing, tools.notes)
    elif missing:
        tools.notes.append("not installing peers (--no-install-peers)")
    for package, binaries in PACKAGES.items():
        for binary in binaries:
            path = _find(binary)
            if path is None:
                tools.notes.append(f"{binary} ({package}) not found: skipped")
                continue
            tools.paths[binary] = path
            tools.versions[binary] = _version(package)
    _discover_pypi(tools, install)
    return tools
