"""A cgroup parent of a test's own, for tests whose job must outlive (or be) a dead supervisor.

Every ``cgseq run`` on the machine reaps the groups of dead supervisors under its parent, so a
test that leaves such a group on purpose (or checks that a live one is spared) must not share
``cli_support.CGROUP_PARENT`` with other CLI tests that may run at the same time.
"""

from __future__ import annotations

import os

from cli_support import cgseq_env, remove_test_cgroups

from cgseq import backends
from tests.conftest import require


def private_env(parent: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return cgseq_env({"CGSEQ_CGROUP_PARENT": parent, **(extra or {})})


def remove_private_groups(parent: str) -> None:
    """rmdir the (empty) job groups left below our own parent, then the parent; nothing else."""
    remove_test_cgroups(parent)


def require_backend(name: str) -> None:
    if name != "poll":
        require("root", os.geteuid() == 0, f"the {name} backend creates groups as root")
    found = backends.load(name).probe()
    require(name, found.available, f"{found.reason} (fix: {found.fix})")
