"""``cgseq doctor`` tells the truth: what it calls available really enforces a limit."""

from __future__ import annotations

import json

import pytest

from cgseq import backends
from tests.support import run_cgseq


@pytest.mark.vm  # also in the VM: doctor must tell the truth about systemd and cgroup2 there
@pytest.mark.timeout(300)
def test_doctor_canaries_prove_every_available_backend() -> None:
    done = run_cgseq("doctor", "--json", timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    found = {b["backend"]: b for b in report["backends"]}
    assert list(found) == list(backends.ORDER)
    available = [name for name in backends.ORDER if found[name]["available"]]
    assert report["auto"] == available[0], "auto must pick the strongest available backend"
    assert "poll" in available
    for name in available:
        canary = found[name]["canary"]
        assert canary["enforced"], f"{name} claims to work but its canary was not killed: {canary}"
        assert canary["reason"] == "memory"
        if found[name]["kernel"]:
            assert canary["peak_memory"] <= 64 << 20, f"{name} overshot the canary's limit"
    for name in set(found) - set(available):
        assert found[name]["reason"], f"{name} is unavailable without a reason"
        assert found[name]["fix"], f"{name} is unavailable without a fix"


def test_named_unavailable_backend_is_125_with_the_reason() -> None:
    missing = [b for b in backends.probe_all() if not b.available]
    if not missing:
        pytest.skip("every backend is available here")
    name = missing[0].backend
    done = run_cgseq("run", "--backend", name, "--", "true")
    assert done.returncode == 125
    assert done.stderr.startswith(f"cgseq: backend {name}:"), done.stderr
    assert done.stderr.count("\n") == 1
