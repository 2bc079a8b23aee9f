"""cgseq's own output that cannot be written is one line and exit 125, never an internal error;
a reader that goes away (``| head``) is no failure at all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import REPO, with_repo_on_path


@pytest.mark.parametrize("command", [["config"], ["status"], ["doctor", "--no-canary"]])
def test_output_to_a_full_device_is_one_line_and_125(command: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "cgseq", *command],
            cwd=REPO,
            env=with_repo_on_path(None),
            stdout=full,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=60,
        )
    lines = done.stderr.splitlines()
    assert done.returncode == 125, done.stderr
    assert lines == ["cgseq: No space left on device (writing the output)"], done.stderr


def test_a_reader_that_goes_away_is_not_a_failure() -> None:
    shell = f"{sys.executable} -m cgseq doctor --no-canary | head -c1 >/dev/null"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell],
        cwd=REPO,
        env=with_repo_on_path(None),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
