"""Runners: the tools measured side by side, behind one small interface (see ``base``)."""

from bench.runners.base import (
    Bare,
    BenchError,
    Completed,
    Job,
    PopenJob,
    Runner,
    Slot,
)
from bench.runners.cgseq import Cgseq, cgseq_runners, find_cgseq_script
from bench.runners.peers import Flock, Nq, Sem, Tq, Tsp, peer_runners

__all__ = [
    "Bare",
    "BenchError",
    "Cgseq",
    "Completed",
    "Flock",
    "Job",
    "Nq",
    "PopenJob",
    "Runner",
    "Sem",
    "Slot",
    "Tq",
    "Tsp",
    "cgseq_runners",
    "find_cgseq_script",
    "peer_runners",
]
