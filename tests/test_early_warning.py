"""The early warning: one line per threshold when a job nears its memory limit."""

from __future__ import annotations

import pytest

from cgseq import config
from cgseq.early_warning import MemoryWarner
from cgseq.errors import UsageError

GiB, MiB = 1 << 30, 1 << 20
PYTEST = ["/usr/bin/python", "-m", "pytest"]
TOP = (4242, "python", int(1.1 * GiB))


def test_the_line_names_the_command_the_share_and_the_largest_process() -> None:
    warner = MemoryWarner(2 * GiB)
    assert warner.check(int(1.5 * GiB), PYTEST, TOP) is None
    line = warner.check(int(1.6 * GiB), PYTEST, TOP)
    assert line == "python -m pytest at 1.6G of 2G (80%); largest: python pid 4242 1.1G"


def test_at_most_once_per_threshold_however_memory_moves() -> None:
    warner = MemoryWarner(1000 * MiB)
    lines = [warner.check(m * MiB, ["make"]) for m in (700, 810, 500, 900, 990, 820)]
    assert [line is not None for line in lines] == [False, True, False, False, False, False]
    assert lines[1] == "make at 810M of 1000M (81%)"


def test_several_thresholds_each_once_and_one_line_for_a_jump_over_two() -> None:
    warner = MemoryWarner(100 * MiB, [0.5, 0.8, 0.95])
    found = [warner.check(m * MiB, ["job"]) for m in (60, 70, 99, 100)]
    assert [line is not None for line in found] == [True, False, True, False]
    assert found[2] is not None and "(99%)" in found[2]


def test_a_long_command_is_cut_and_an_empty_one_named() -> None:
    line = MemoryWarner(10 * MiB).check(9 * MiB, ["sh", "-c", "x" * 200])
    assert line is not None and len(line.split(" at ")[0]) <= 60 and "…" in line
    assert MemoryWarner(10 * MiB).check(10 * MiB, []) == "the job at 10M of 10M (100%)"


@pytest.mark.parametrize("share", [0, 1.5, -0.1, []])
def test_a_share_outside_0_to_1_is_refused(share: float) -> None:
    with pytest.raises(ValueError):
        MemoryWarner(GiB, share)


@pytest.mark.parametrize(
    ("text", "share"),
    [("0.8", 0.8), ("80%", 0.8), ("95 %", 0.95), ("1", 1.0), ("100%", 1.0), ("off", None)],
)
def test_the_option_takes_a_share_or_a_percentage(text: str, share: float | None) -> None:
    option = config.BY_NAME["memory_warn_share"]
    assert option.parse(text, option.label) == share


@pytest.mark.parametrize("text", ["0", "0%", "1.5", "150%", "80 percent", "8e-1", "inf", ""])
def test_the_option_refuses_anything_else_in_one_line(text: str) -> None:
    option = config.BY_NAME["memory_warn_share"]
    with pytest.raises(UsageError, match=r"^invalid memory-warn-share .*0\.8, 80%"):
        option.parse(text, option.label)


def test_the_option_defaults_to_80_percent_and_comes_from_env(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert config.resolve(str(tmp_path))["memory_warn_share"].value == 0.8
    monkeypatch.setenv("CGSEQ_MEMORY_WARN_SHARE", "90%")
    setting = config.resolve(str(tmp_path))["memory_warn_share"]
    assert setting == config.Setting("memory_warn_share", 0.9, "env CGSEQ_MEMORY_WARN_SHARE")
