"""Property tests of the size, duration and count parsers (issue 8, item 5).

Whatever the text, a parser returns a value within its option's bounds or raises a
one-line UsageError; nothing else (no ValueError from "²", no OverflowError from 400 nines).
Generated valid forms round-trip to the value computed here with exact fractions.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cgseq import config
from cgseq.errors import UsageError
from cgseq.units import parse_count, parse_duration, parse_size

settings.register_profile(
    "cgseq", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("cgseq")

MAX_SIZE = (1 << 63) - 1
MAX_DURATION = 3650 * 86400.0
SIZE_FACTORS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
DURATION_FACTORS = {"ms": Fraction(1, 1000), "s": 1, "m": 60, "h": 3600, "d": 86400}
UNLIMITED = ("none", "max", "infinity", "unlimited", "off")

# text that looks like the real thing more often than st.text() alone would
NEAR = st.text(alphabet="0123456789.0 9kKmMgGtTpPiIbBsShHdD²١٠\t\n-+e_,x", max_size=30)
ANY_TEXT = st.one_of(st.text(max_size=60), NEAR, st.just("9" * 400), st.just("9" * 5000))
SPACES = st.sampled_from(["", " ", "  ", "\t"])


def refused(call: object, *args: object) -> UsageError | None:
    """The UsageError ``call(*args)`` raised, or None; any other exception fails the test."""
    try:
        call(*args)  # type: ignore[operator]
    except UsageError as exc:
        assert "\n" not in exc.message and exc.message.startswith("invalid "), exc.message
        return exc
    return None


# ------------------------------------------------------------------ anything at all


@given(ANY_TEXT)
@example("²")
@example("١٠")
@example("9" * 400)
@example("9" * 5000 + "M")
def test_a_size_is_a_value_or_a_usage_error(text: str) -> None:
    try:
        value = parse_size(text, "memory")
    except UsageError as exc:
        assert "\n" not in exc.message
        return
    assert value is None or 0 < value <= MAX_SIZE


@given(ANY_TEXT)
@example("9" * 400)
@example("1e300")
@example("9" * 400 + "ms")
def test_a_duration_is_a_value_or_a_usage_error(text: str) -> None:
    try:
        value = parse_duration(text, "timeout")
    except UsageError as exc:
        assert "\n" not in exc.message
        return
    assert value is None or (math.isfinite(value) and 0 < value <= MAX_DURATION)


@given(ANY_TEXT)
@example("²")
@example("١٠")
@example("9" * 5000)
def test_a_count_is_a_value_or_a_usage_error(text: str) -> None:
    try:
        value = parse_count(text, "pids")
    except UsageError as exc:
        assert "\n" not in exc.message
        return
    assert value is None or (isinstance(value, int) and value > 0)


BOUNDS = {  # option: (minimum, maximum) of what its parser may return, None aside
    "memory": (1 << 20, MAX_SIZE),
    "swap": (0, MAX_SIZE),
    "pids": (1, 1 << 22),
    "retry": (0, 1000),
    "timeout": (0.001, MAX_DURATION),
    "kill_grace": (0.0, MAX_DURATION),
    "wait_timeout": (0.001, MAX_DURATION),
    "poll_interval": (0.01, MAX_DURATION),
}
NEVER_UNLIMITED = {"retry", "kill_grace", "poll_interval"}


@pytest.mark.parametrize("name", [option.name for option in config.OPTIONS])
@given(text=ANY_TEXT)
@example(text="1.5")
@example(text="1e-7")
@example(text="none")
@example(text="²")
def test_every_option_gives_a_value_in_its_bounds_or_a_usage_error(name: str, text: str) -> None:
    option = config.BY_NAME[name]
    try:
        value = option.parse(text, name)
    except UsageError as exc:
        assert "\n" not in exc.message and exc.message.startswith("invalid "), exc.message
        return
    if name in BOUNDS:
        low, high = BOUNDS[name]
        assert value is not None or name not in NEVER_UNLIMITED, f"{name} {text!r}: unlimited"
        assert value is None or low <= value <= high, f"{name} {text!r} -> {value!r}"


# ------------------------------------------------------------- valid forms round-trip


@st.composite
def sizes(draw: st.DrawFn) -> tuple[str, int]:
    """A size as a user might write it, and its exact value in bytes (rounded down)."""
    whole = draw(st.integers(0, 10**22))
    fraction = draw(st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=25)))
    unit = draw(st.sampled_from(list(SIZE_FACTORS)))
    suffix = draw(st.sampled_from(["", "b", "B"] + (["i", "ib", "iB", "IB"] if unit else [])))
    cased = draw(st.sampled_from([unit.lower(), unit.upper()]))
    number = f"{whole}.{fraction}" if fraction else str(whole)
    text = draw(SPACES) + number + draw(SPACES) + cased + suffix + draw(SPACES)
    return text, math.floor(Fraction(number) * SIZE_FACTORS[unit])


@given(sizes())
@example(("10 M", 10 << 20))
@example(("9223372036854775807", MAX_SIZE))
@example(("8191.999P", math.floor(Fraction("8191.999") * (1 << 50))))
def test_sizes_round_trip_exactly_within_bounds(case: tuple[str, int]) -> None:
    text, expected = case
    error = refused(parse_size, text, "memory")
    if expected > MAX_SIZE:
        assert error is not None and "at most 9223372036854775807" in error.message
    elif expected < 1:
        assert error is not None and "at least 1B" in error.message
    else:
        assert error is None, error
        assert parse_size(text, "memory") == expected


@given(sizes())
def test_memory_below_one_mebibyte_is_refused_naming_the_minimum(case: tuple[str, int]) -> None:
    text, expected = case
    error = refused(config.BY_NAME["memory"].parse, text, "memory")
    if expected < 1 << 20:
        assert error is not None and "at least 1M" in error.message, text
    elif expected <= MAX_SIZE:
        assert error is None, error


def numbers(largest: int, places: int) -> st.SearchStrategy[str]:
    """``12``, ``0.5``, ``007.250``: a whole part and up to ``places`` decimals, as text."""
    fraction = st.text("0123456789", min_size=1, max_size=places)
    return st.tuples(st.integers(0, largest), st.one_of(st.just(""), fraction)).map(
        lambda pair: f"{pair[0]}.{pair[1]}" if pair[1] else str(pair[0])
    )


@st.composite
def durations(draw: st.DrawFn) -> tuple[str, Fraction]:
    """A duration of one or more parts (``1h 30m``) or plain seconds, and its exact value."""
    if draw(st.booleans()):
        number = draw(numbers(10**12, 4))
        return draw(SPACES) + number + draw(SPACES), Fraction(number)
    parts, total = [], Fraction(0)
    for _ in range(draw(st.integers(1, 4))):
        number = draw(numbers(10**9, 3))
        unit = draw(st.sampled_from(list(DURATION_FACTORS)))
        parts.append(number + draw(SPACES) + draw(st.sampled_from([unit, unit.upper()])))
        total += Fraction(number) * DURATION_FACTORS[unit]
    return draw(SPACES) + "".join(p + draw(SPACES) for p in parts), total


@given(durations())
@example(("10 m", Fraction(600)))
@example(("1h 30m", Fraction(5400)))
@example(("3650d", Fraction(MAX_DURATION)))
@example(("1ms", Fraction(1, 1000)))
def test_durations_round_trip_within_bounds(case: tuple[str, Fraction]) -> None:
    text, expected = case
    error = refused(parse_duration, text, "timeout")
    if expected > Fraction(MAX_DURATION) * (1 + Fraction(1, 10**9)):
        assert error is not None and "at most 3650d" in error.message
    elif expected < Fraction(1, 1000) * (1 - Fraction(1, 10**9)):
        assert error is not None and "at least 1ms" in error.message
    elif Fraction(1, 1000) < expected < Fraction(MAX_DURATION):
        assert error is None, error
        assert parse_duration(text, "timeout") == pytest.approx(float(expected), rel=1e-9)


@given(durations())
@example(("9ms", Fraction(9, 1000)))
@example(("10ms", Fraction(1, 100)))
def test_poll_interval_below_ten_milliseconds_is_refused(case: tuple[str, Fraction]) -> None:
    text, expected = case
    error = refused(config.BY_NAME["poll_interval"].parse, text, "poll-interval")
    if expected < Fraction(1, 100) * (1 - Fraction(1, 10**9)):
        assert error is not None and "at least 10ms" in error.message, text
    elif expected <= Fraction(MAX_DURATION):
        assert error is None, error


@given(st.integers(0, 10**50), SPACES, SPACES)
@example(4194304, "", "")
@example(4194305, "", "")
@example(0, " ", " ")
def test_pids_round_trip_within_bounds(n: int, before: str, after: str) -> None:
    text = f"{before}{n}{after}"
    error = refused(config.BY_NAME["pids"].parse, text, "pids")
    if n < 1:
        assert error is not None and "at least 1" in error.message
    elif n > 1 << 22:
        assert error is not None and "at most 4194304" in error.message
    else:
        assert error is None and config.BY_NAME["pids"].parse(text, "pids") == n


@given(st.integers(0, 10**50))
@example(1000)
@example(1001)
@example(10**30)
def test_retry_round_trips_up_to_a_thousand(n: int) -> None:
    error = refused(config.BY_NAME["retry"].parse, str(n), "retry")
    if n > 1000:
        assert error is not None and "at most 1000" in error.message
    else:
        assert error is None and config.BY_NAME["retry"].parse(str(n), "retry") == n


@given(st.sampled_from(UNLIMITED), st.booleans(), SPACES)
def test_unlimited_words_mean_unlimited_where_an_option_allows_it(
    word: str, upper: bool, space: str
) -> None:
    text = space + (word.upper() if upper else word) + space
    for name in ("memory", "swap", "pids", "timeout", "wait_timeout"):
        assert config.BY_NAME[name].parse(text, name) is None
    for name in NEVER_UNLIMITED:
        assert refused(config.BY_NAME[name].parse, text, name) is not None
