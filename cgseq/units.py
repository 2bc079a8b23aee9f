"""Parsing and formatting of sizes, durations and counts, with errors that list the accepted forms.

One rule for all three: ASCII digits only; spaces may stand around a value and between a
number and its unit (``10 M``, ``10 m``, ``1h 30m``), never inside a number. Every value has
a finite maximum (no ``inf``, no 400 nines) and each option its own minimum; ``max``,
``none``, ``unlimited``, ``infinity`` and ``off`` mean unlimited where an option allows it.
"""

from __future__ import annotations

import re

from cgseq.errors import UsageError

SIZE_FORMS = (
    "a number of bytes or a number with K, M, G, T or P (512M, 2G, 1.5GiB, 10 M; powers of 1024)"
)
DURATION_FORMS = "seconds, or numbers with ms, s, m, h or d (500ms, 90s, 10m, 1h, 1h 30m, 10 m)"
MAX_SIZE = (1 << 63) - 1  # the kernel's page counters hold at most this many bytes
MAX_DURATION = 3650 * 86400.0  # 10 years: far below what timers and select() can hold
MAX_DURATION_TEXT = "3650d (10 years)"

# patterns compile on first use (re caches them): most runs parse no size at all
_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_SIZE_RE = rf"\s*{_NUMBER}\s*([kmgtp]?)(i?b?)\s*"
_SIZE_FACTORS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DURATION_PART = rf"\s*{_NUMBER}\s*(ms|s|m|h|d)\s*"
_DURATION_FACTORS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_COUNT_RE = r"\s*([0-9]+)\s*"
_UNLIMITED = {"none", "max", "infinity", "unlimited", "off"}
_SPACE = " \t\n\r\f\v"  # what \s means with re.ASCII: str.strip() would take any Unicode space
_FLAGS = re.ASCII | re.IGNORECASE  # ASCII: "²", "١٠" and the Kelvin sign are not digits or K
_TOO_MANY_DIGITS = 40  # more digits than any bound has: too large, whatever they say


def parse_size(
    text: str, what: str = "size", *, minimum: int = 1, unlimited: bool = True
) -> int | None:
    """``"2G"`` → 2147483648; ``"max"``/``"none"`` → None (unlimited). Exact: no floats."""
    if unlimited and text.strip(_SPACE).lower() in _UNLIMITED:
        return None
    match = re.fullmatch(_SIZE_RE, text, _FLAGS)
    if not match or (match.group(3) and not match.group(2) and match.group(3).lower() != "b"):
        raise _invalid(what, text, SIZE_FORMS, "max" if unlimited else None)
    value = _scaled(match.group(1), _SIZE_FACTORS[match.group(2).lower()])
    if value > MAX_SIZE:
        raise UsageError(
            f"invalid {what} {shown(text)}: must be at most {MAX_SIZE} bytes (8 EiB - 1)"
            f"; expected {SIZE_FORMS}"
        )
    if value < minimum:
        raise UsageError(
            f"invalid {what} {shown(text)}: must be at least {format_size(minimum)}"
            f"; expected {SIZE_FORMS}"
        )
    return value


def _scaled(number: str, factor: int) -> int:
    """``number × factor`` rounded down to a whole byte, in exact integer arithmetic."""
    whole, _, fraction = number.partition(".")
    whole = whole.lstrip("0") or "0"
    if len(whole) > _TOO_MANY_DIGITS:
        return MAX_SIZE + 1
    # 10**60 is a multiple of every factor (2**50 at most), so dropping the digits after the
    # 60th never changes the whole bytes; it keeps int() far from its 4300-digit limit
    fraction = fraction[:60].rstrip("0")
    scale: int = 10 ** len(fraction)
    return (int(whole) * scale + int(fraction or "0")) * factor // scale


def parse_duration(
    text: str, what: str = "duration", *, minimum: float = 0.001, unlimited: bool = True
) -> float | None:
    """``"90s"`` → 90.0, ``"1h 30m"`` → 5400.0, ``"2.5"`` → 2.5; ``"none"`` → None."""
    raw = text.strip(_SPACE).lower()
    if unlimited and raw in _UNLIMITED:
        return None
    seconds = _seconds(raw)
    if seconds is None:
        raise _invalid(what, text, DURATION_FORMS, "none" if unlimited else None)
    if seconds > MAX_DURATION:
        raise UsageError(
            f"invalid {what} {shown(text)}: must be at most {MAX_DURATION_TEXT}"
            f"; expected {DURATION_FORMS}"
        )
    if seconds < minimum * (1 - 1e-9):  # 10 × 0.001 must pass a 10 ms minimum
        raise UsageError(
            f"invalid {what} {shown(text)}: must be at least {format_duration(minimum)}"
            f"; expected {DURATION_FORMS}"
        )
    return seconds


def parse_interval(text: str | None, default: float, minimum: float) -> float:
    """``--interval DUR`` of a command that samples (watch, monitor): ``default`` if not given."""
    if text is None:
        return default
    return parse_duration(text, "--interval", minimum=minimum, unlimited=False) or default


def parse_limit(text: str | None, what: str) -> int | None:
    """``--count N`` / ``-n N`` when given; None (no bound) when not."""
    return parse_count(text, what, unlimited=False) if text is not None else None


def _seconds(raw: str) -> float | None:
    """The sum of ``raw``'s parts, or None when it is not a duration at all."""
    plain = re.fullmatch(_NUMBER, raw, re.ASCII)
    if plain:
        return _float(plain.group(1))
    total, position, part = 0.0, 0, re.compile(_DURATION_PART, re.ASCII)
    while position < len(raw):
        match = part.match(raw, position)
        if not match:
            return None
        total += _float(match.group(1)) * _DURATION_FACTORS[match.group(2)]
        position = match.end()
    return total if position else None


def _float(number: str) -> float:
    whole = number.partition(".")[0].lstrip("0")
    return float("inf") if len(whole) > _TOO_MANY_DIGITS else float(number)


def parse_count(
    text: str,
    what: str = "count",
    *,
    minimum: int = 1,
    maximum: int = 1 << 62,
    unlimited: bool = True,
) -> int | None:
    """``"20"`` → 20; ``"max"`` → None (unlimited) where allowed."""
    if unlimited and text.strip(_SPACE).lower() in _UNLIMITED:
        return None
    match = re.fullmatch(_COUNT_RE, text, re.ASCII)
    expected = f"a whole number from {minimum} to {maximum}" + (", or 'max'" if unlimited else "")
    if not match:
        raise UsageError(f"invalid {what} {shown(text)}: expected {expected}")
    digits = match.group(1).lstrip("0") or "0"
    value = maximum + 1 if len(digits) > _TOO_MANY_DIGITS else int(digits)
    if value > maximum:
        raise UsageError(f"invalid {what} {shown(text)}: must be at most {maximum}")
    if value < minimum:
        raise UsageError(f"invalid {what} {shown(text)}: must be at least {minimum}")
    return value


def shown(text: str) -> str:
    """``text`` quoted for a message, cut short: 5000 digits make no better error line."""
    return repr(text) if len(text) <= 40 else repr(text[:40]) + "…"


def _invalid(what: str, text: str, forms: str, unlimited: str | None) -> UsageError:
    alternative = f", or {unlimited!r}" if unlimited else ""
    return UsageError(f"invalid {what} {shown(text)}: expected {forms}{alternative}")


def format_size(value: int | None) -> str:
    if value is None:
        return "max"
    units = (("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10))
    for unit, factor in units:
        if value >= factor:
            scaled = value / factor
            return f"{scaled:.3g}{unit}" if scaled < 1000 else f"{scaled:.0f}{unit}"
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
