"""The floors every figure is compared with, measured in the same run."""

from __future__ import annotations

from bench.model import Baselines
from bench.runners import Bare, BenchError
from bench.stats import Summary
from bench.workspace import PYTHON, Workspace

PYTHON_PASS = [PYTHON, "-c", "pass"]


def measure(repeats: int) -> Baselines:
    """Bare ``true`` and bare ``python3 -c pass`` (the real interpreter), interleaved."""
    samples: dict[str, list[float]] = {"true": [], "python": []}
    with Workspace("baselines") as ws:
        slot = Bare("true").open(ws)
        commands = {"true": ["true"], "python": PYTHON_PASS}
        for i in range(repeats + 1):
            for name, cmd in commands.items():
                done = slot.run(cmd, timeout=30)
                if done.returncode != 0:
                    raise BenchError(f"baseline {cmd} exited {done.returncode}")
                if i:  # the first round warms caches
                    samples[name].append(done.wall)
    true, python = Summary.of(samples["true"]), Summary.of(samples["python"])
    assert true is not None and python is not None
    return Baselines(true, python)
