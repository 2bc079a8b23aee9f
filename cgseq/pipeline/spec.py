"""Resolved option values → the :class:`~cgseq.model.JobSpec` the pipeline runs.

One place for the CLI and :func:`cgseq.run`: the same values make the same job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cgseq.model import JobSpec, Limits


def build_spec(
    argv: tuple[str, ...],
    values: Mapping[str, Any],
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
) -> JobSpec:
    """``values`` by option name, as :func:`cgseq.config.resolve` gives them."""
    limits = Limits(
        memory=values["memory"],
        swap=values["swap"],
        pids=values["pids"],
        timeout=values["timeout"],
        kill_grace=values["kill_grace"],
    )
    return JobSpec(
        argv=argv,
        limits=limits,
        cwd=cwd or os.getcwd(),
        env=dict(env) if env is not None else None,
        backend=values["backend"],
        lock=values["lock"],
        wait_timeout=values["wait_timeout"],
        leftovers=values["leftovers"],
        retry=values["retry"],
        poll_interval=values["poll_interval"],
        record=values["record"],
        memory_warn_share=values["memory_warn_share"],
    )
