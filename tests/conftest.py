"""Shared test plumbing: capability gates, isolated state dirs, bounded runs.

A test that needs a kernel feature calls ``require("cgroup1")`` (or uses the
``needs`` fixture helpers). On a laptop a missing capability is a skip with the
reason; when ``CGSEQ_TEST_REQUIRE`` names the capability (CI), it is a failure.
"""

from __future__ import annotations

import os
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRED = {c.strip() for c in os.environ.get("CGSEQ_TEST_REQUIRE", "").split(",") if c.strip()}


def require(capability: str, available: bool, why: str) -> None:
    """Skip (laptop) or fail (CI names the capability) when ``available`` is false."""
    if available:
        return
    message = f"needs {capability}: {why}"
    if capability in REQUIRED or "all" in REQUIRED:
        pytest.fail(f"{message} (required by CGSEQ_TEST_REQUIRE)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own private cgseq state dir and history: no test sees another's
    queue or jobs."""
    path = tmp_path_factory.mktemp("cgseq-state")
    path.chmod(0o700)
    monkeypatch.setenv("CGSEQ_STATE_DIR", str(path))
    # the history database lives in $XDG_STATE_HOME/cgseq: a private one per test, too
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
    for name in list(os.environ):
        if name.startswith("CGSEQ_") and name not in ("CGSEQ_STATE_DIR", "CGSEQ_TEST_REQUIRE"):
            monkeypatch.delenv(name)
    return path


@pytest.fixture(autouse=True, scope="session")
def _bounded_memory() -> Iterator[None]:
    """A runaway test must never endanger the machine: cap the address space of the run."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = int(os.environ.get("CGSEQ_TEST_MAX_AS", str(8 << 30)))
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


_STOP_SIGNALS = (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM)


@pytest.fixture(autouse=True, scope="session")
def _default_stop_signals() -> Iterator[None]:
    """Tests start from the default signal dispositions, however the suite was launched.

    A suite started in the background (``cmd &`` in a script, ``nohup``, some CI runners)
    inherits SIGINT/SIGQUIT or SIGHUP ignored, every process it starts inherits that through
    exec, and cgseq rightly keeps a signal ignored at its start ignored: tests that send
    SIGINT to cgseq or ^C through a pty would then test the launcher, not cgseq.
    """
    ignored = [s for s in _STOP_SIGNALS if signal.getsignal(s) == signal.SIG_IGN]
    for signum in ignored:
        default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        signal.signal(signum, default)
    yield
    for signum in ignored:
        signal.signal(signum, signal.SIG_IGN)
