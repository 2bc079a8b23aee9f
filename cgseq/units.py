"""Parsing and formatting of sizes and durations, with errors that list the accepted forms."""

from __future__ import annotations

import re

from cgseq.errors import UsageError

SIZE_FORMS = "a number of bytes or a number with K, M, G or T (512M, 2G, 1.5GiB; powers of 1024)"
DURATION_FORMS = "seconds, or a number with ms, s, m, h or d (500ms, 90s, 10m, 1h, 1h30m)"

# patterns compile on first use (re caches them): most runs parse no size at all
_SIZE_RE = r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$"
_SIZE_FACTORS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DURATION_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h|d)"
_DURATION_FACTORS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_UNLIMITED = {"none", "max", "infinity", "unlimited", "off"}


def parse_size(text: str, what: str = "size") -> int | None:
    """``"2G"`` → 2147483648; ``"max"``/``"none"`` → None (unlimited)."""
    if text.strip().lower() in _UNLIMITED:
        return None
    match = re.match(_SIZE_RE, text, re.IGNORECASE)
    if not match or (match.group(3) and not match.group(2) and match.group(3).lower() != "b"):
        raise UsageError(f"invalid {what} {text!r}: expected {SIZE_FORMS}, or 'max'")
    number, unit = float(match.group(1)), match.group(2).lower()
    value = int(number * _SIZE_FACTORS[unit])
    if value <= 0:
        raise UsageError(f"invalid {what} {text!r}: must be more than 0; expected {SIZE_FORMS}")
    return value


def parse_duration(text: str, what: str = "duration") -> float | None:
    """``"90s"`` → 90.0, ``"1h30m"`` → 5400.0, ``"2.5"`` → 2.5; ``"none"`` → None."""
    raw = text.strip().lower()
    if raw in _UNLIMITED:
        return None
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        return _positive(float(raw), what, text)
    parts = re.findall(_DURATION_PART, raw)
    if not parts or "".join(n + u for n, u in parts) != raw:
        raise UsageError(f"invalid {what} {text!r}: expected {DURATION_FORMS}, or 'none'")
    return _positive(sum(float(n) * _DURATION_FACTORS[u] for n, u in parts), what, text)


def _positive(value: float, what: str, text: str) -> float:
    if value <= 0:
        raise UsageError(f"invalid {what} {text!r}: must be more than 0; expected {DURATION_FORMS}")
    return value


def parse_count(text: str, what: str = "count") -> int | None:
    if text.strip().lower() in _UNLIMITED:
        return None
    if not text.strip().isdigit() or int(text) <= 0:
        raise UsageError(
            f"invalid {what} {text!r}: expected a whole number greater than 0, or 'max'"
        )
    return int(text)


def format_size(value: int | None) -> str:
    if value is None:
        return "max"
    for unit, factor in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if value >= factor:
            return f"{value / factor:.3g}{unit}"
    return f"{value}B"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
