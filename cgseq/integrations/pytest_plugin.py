"""The pytest plugin (entry point ``pytest11``: ``cgseq``): pytest takes its turn by itself.

A ``pytest`` started directly in a project with a ``[tool.cgseq]`` table re-executes itself
as ``python -m cgseq run -- <the same command line>``: the whole pytest process tree then
runs in the job's group, under the project's limits, on the same backends as any job.
Under cgseq (``$CGSEQ_JOB_ID`` set) it only prints a header line, and caps pytest-xdist's
``-n auto``. ``-p no:cgseq`` or ``CGSEQ_PYTEST=0`` turns it off. The rules are in
:mod:`cgseq.integrations.pytest_turn`.
"""

from __future__ import annotations

import os

import pytest

from cgseq.integrations import pytest_turn


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    """Re-exec before any conftest or test is imported: nothing runs outside the turn."""
    if not pytest_turn.should_reexec(early_config.invocation_params.args, os.getcwd()):
        return
    # pytest already captures fds 1 and 2 (and 0) here: give the real ones back to the exec
    capture = early_config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)
    pytest_turn.reexec()


def pytest_report_header(config: pytest.Config) -> str | None:
    if pytest_turn.disabled() or not pytest_turn.in_job():
        return None
    found = pytest_turn.own_holder()
    return pytest_turn.header(*found) if found is not None else None


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: no more workers than the memory limit holds (see ``worker_cap``)."""
    if pytest_turn.disabled():
        return None
    return _auto_workers(os.getcwd())


def _auto_workers(cwd: str) -> int | None:
    from cgseq import config
    from cgseq.errors import CgseqError
    from cgseq.project import project_root

    project = project_root(cwd)
    try:
        settings = config.resolve(project)
    except CgseqError:
        return None
    found = pytest_turn.own_holder(timeout=0)
    limits = found[0].limits if found is not None else None
    memory = limits.memory if limits is not None else settings["memory"].value
    most = settings["pytest_max_workers"].value
    per_worker = pytest_turn.per_worker_memory(project) if memory is not None else 0
    return pytest_turn.worker_cap(memory, most, per_worker, os.cpu_count() or 1)
