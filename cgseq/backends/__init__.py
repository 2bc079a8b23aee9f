"""Backend registry: one module per backend, chosen once per run.

``select("auto")`` returns the strongest available backend (systemd scope, then
cgroup v2, then cgroup v1, then polling, which always works). A named backend that
is unavailable raises BackendUnavailable: never a silent fallback.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from cgseq.backends.base import Availability, Backend
from cgseq.errors import BackendUnavailable, UsageError

# strongest first; module cgseq.backends.<name> exposes BACKEND (a Backend class)
ORDER = ("systemd", "cgroup2", "cgroup1", "poll")


def load(name: str) -> Backend:
    if name not in ORDER:
        raise UsageError(f"unknown backend {name!r}: expected auto, {', '.join(ORDER)}")
    module = importlib.import_module(f"cgseq.backends.{name}")
    factory: Callable[[], Backend] = module.BACKEND
    return factory()


def probe_all() -> list[Availability]:
    """Every backend's availability, strongest first (for ``cgseq doctor``)."""
    return [_probe(name) for name in ORDER]


def _probe(name: str) -> Availability:
    try:
        return load(name).probe()
    except ImportError as exc:  # an optional dependency (pystemd) is missing
        return Availability(name, False, f"cannot import: {exc}", fix=_install_hint(name))


def _install_hint(name: str) -> str | None:
    return (
        "pip install 'cgseq[systemd]' (needs libsystemd-dev, pkg-config, gcc)"
        if (name == "systemd")
        else None
    )


def select(name: str = "auto") -> tuple[Backend, Availability]:
    """The backend to run with and its availability (raises if a named one is unavailable)."""
    if name != "auto":
        backend = load(name)
        found = backend.probe()
        if not found.available:
            raise BackendUnavailable(name, found.reason, hint=found.fix)
        return backend, found
    for candidate in ORDER:
        try:
            backend = load(candidate)
        except ImportError:
            continue
        found = backend.probe()
        if found.available:
            return backend, found
    raise BackendUnavailable("auto", "no backend is available")  # poll always is


def next_after(name: str) -> list[str]:
    """Backends weaker than ``name``, for an auto run whose group failed to take its limits."""
    return list(ORDER[ORDER.index(name) + 1 :]) if name in ORDER else []


def opens_at_turn(name: str) -> bool:
    """Would the backend a run of ``name`` gets open its group only at the turn?

    Cheap checks only (``may_run_here``): the waiter next in line asks this before it
    prepares anything, and must not import what such a backend needs.
    """
    for candidate in ORDER if name == "auto" else (name,):
        backend = load(candidate)
        if backend.may_run_here():
            return backend.capabilities.opens_group_at_turn
    return False


def check_named(name: str) -> None:
    """Fail before queueing when a named backend cannot run here.

    One that opens its group only at the turn is probed then: its probe may import what a
    waiter must not. ``auto`` always finds one (polling always works).
    """
    if name != "auto" and not load(name).capabilities.opens_group_at_turn:
        select(name)


def for_nested() -> Backend:
    """The backend a run nested in a cgseq job uses for its own limits."""
    return next(load(name) for name in ORDER if load(name).capabilities.nests)


def candidates(name: str) -> list[tuple[Backend, Availability]]:
    """The selected backend, then (for auto) the weaker available ones to fall back to."""
    first, availability = select(name)
    chosen = [(first, availability)]
    if name == "auto":
        for weaker in next_after(first.name):
            backend = load(weaker)
            found = backend.probe()
            if found.available:
                chosen.append((backend, found))
    return chosen
