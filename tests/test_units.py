from __future__ import annotations

import pytest

from cgseq.errors import UsageError
from cgseq.units import format_duration, format_size, parse_count, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512M", 512 << 20),
        ("2G", 2 << 30),
        ("1.5GiB", 3 << 29),
        ("100", 100),
        ("64k", 64 << 10),
        ("2gb", 2 << 30),
        ("max", None),
    ],
)
def test_sizes(text: str, expected: int | None) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["2X", "", "G", "-1M", "0", "1.5.2G", "2 GiBs"])
def test_bad_sizes_name_the_accepted_forms(text: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_size(text, "memory")
    assert "512M, 2G, 1.5GiB" in error.value.message
    assert "\n" not in error.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", 90.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("2.5", 2.5),
        ("none", None),
    ],
)
def test_durations(text: str, expected: float | None) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["10x", "m", "1h-30m", "-5s", "0s", "s10"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError, match="90s, 10m, 1h"):
        parse_duration(text, "timeout")


def test_counts() -> None:
    assert parse_count("20") == 20
    with pytest.raises(UsageError):
        parse_count("0")
    with pytest.raises(UsageError):
        parse_count("2.5")


def test_formatting() -> None:
    assert format_size(2 << 30) == "2G"
    assert format_size(None) == "max"
    assert format_duration(0.25) == "250ms"
    assert format_duration(72) == "1m12s"
