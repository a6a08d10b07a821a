"""Units as people write them in scenario files: ``250ms``, ``2s``, ``400/s``, ``50%``.

Parsing is strict (``"fast"`` is an error, not zero) and formatting is the inverse,
so a scenario loaded and saved again reads the way its author wrote it.

Values are untrusted: a string longer than ``MAX_UNIT_TEXT`` is refused before any
regular expression sees it, and the expressions are unambiguous (each character
can be matched one way only), so parsing any value takes time linear in its
length. Messages echo at most about 60 characters of the value.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable

from simulator.scenario_yaml import short_repr

__all__ = [
    "MAX_UNIT_TEXT",
    "format_duration",
    "format_percent",
    "format_rate",
    "holds",
    "parse_duration",
    "parse_percent",
    "parse_rate",
]

_DURATION_UNITS = {
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
}
_RATE_UNITS = {"s": 1.0, "sec": 1.0, "m": 1 / 60, "min": 1 / 60, "h": 1 / 3600}
MAX_UNIT_TEXT = 64
"""Longest unit string read; ``"0.000000000000000000000000000000000000000001ms"`` fits."""

# One way to match each character: digits, then an optional point and digits, or a
# point and digits. ``[0-9]*\.?[0-9]+`` could split a run of digits n ways and
# backtracks in quadratic (or, nested in ``\s*``, cubic) time on a near miss.
_NUMBER = r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_DURATION_RE = re.compile(rf"^\s*({_NUMBER})\s*(us|µs|ms|s|min|m|h)\s*$")
_RATE_RE = re.compile(rf"^\s*({_NUMBER})\s*/\s*(sec|s|min|m|h)\s*$")
_PERCENT_RE = re.compile(rf"^\s*({_NUMBER})\s*%\s*$")
_FRACTION_RE = re.compile(rf"^\s*{_NUMBER}\s*$")


def _finite_non_negative(value: float, what: str, raw: object) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"expected a non-negative {what}, got {short_repr(raw)}")
    return value


def _number(raw: int | float, what: str) -> float:
    """A bare number as a float; an int too large for a float is an error, not a crash."""
    try:
        value = float(raw)
    except OverflowError:
        raise ValueError(f"expected a non-negative {what}, got {short_repr(raw)}") from None
    return _finite_non_negative(value, what, raw)


def _match(pattern: re.Pattern[str], raw: str) -> re.Match[str] | None:
    return pattern.match(raw) if len(raw) <= MAX_UNIT_TEXT else None


def parse_duration(raw: object) -> float:
    """Seconds from ``"250ms"``, ``"2s"``, ``"1.5min"`` or a bare number of seconds."""
    if isinstance(raw, bool):
        raise ValueError(f'expected a duration like "250ms", got {short_repr(raw)}')
    if isinstance(raw, int | float):
        return _number(raw, "duration")
    if isinstance(raw, str):
        match = _match(_DURATION_RE, raw)
        if match:
            value = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
            return _finite_non_negative(value, "duration", raw)
    raise ValueError(f'expected a duration like "250ms", got {short_repr(raw)}')


def parse_rate(raw: object) -> float:
    """Events per second from ``"400/s"``, ``"1200/min"`` or a bare number per second."""
    if isinstance(raw, bool):
        raise ValueError(f'expected a rate like "400/s", got {short_repr(raw)}')
    if isinstance(raw, int | float):
        return _number(raw, "rate")
    if isinstance(raw, str):
        match = _match(_RATE_RE, raw)
        if match:
            value = float(match.group(1)) * _RATE_UNITS[match.group(2)]
            return _finite_non_negative(value, "rate", raw)
    raise ValueError(f'expected a rate like "400/s", got {short_repr(raw)}')


def parse_percent(raw: object) -> float:
    """A fraction in [0, 1] from ``"50%"`` or a bare fraction like ``0.5``."""
    if isinstance(raw, bool):
        raise ValueError(f'expected a percentage like "50%", got {short_repr(raw)}')
    value: float | None = None
    if isinstance(raw, float) or (isinstance(raw, int) and abs(raw) <= 1):
        value = float(raw)
    elif isinstance(raw, str):
        match = _match(_PERCENT_RE, raw)
        if match:
            value = float(match.group(1)) / 100.0
        elif _match(_FRACTION_RE, raw):
            value = float(raw)
    if value is None or not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(
            f'expected a percentage between 0% and 100% like "50%", got {short_repr(raw)}'
        )
    return value


def _trim(value: float) -> str:
    return f"{value:.12g}"


def _exact(candidates: list[str], value: float, parse) -> str:
    """The first spelling that parses back to exactly ``value``: saving must not drift."""
    for text in candidates:
        if parse(text) == value:
            return text
    return candidates[-1]


def format_duration(seconds: float) -> str:
    """The shortest readable spelling that parses back to the same number of seconds."""
    if seconds == 0:
        return "0s"
    candidates = []
    if seconds < 1e-3:
        candidates.append(f"{_trim(seconds * 1e6)}us")
    if seconds < 1.0:
        candidates.append(f"{_trim(seconds * 1e3)}ms")
    candidates.append(f"{_trim(seconds)}s")
    candidates.append(f"{seconds!r}s")
    return _exact(candidates, seconds, parse_duration)


def format_rate(per_second: float) -> str:
    return _exact([f"{_trim(per_second)}/s", f"{per_second!r}/s"], per_second, parse_rate)


def format_percent(fraction: float) -> str:
    candidates = [f"{_trim(fraction * 100)}%", repr(fraction)]
    return _exact(candidates, fraction, parse_percent)


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


def holds(value: float, op: str, threshold: float) -> bool:
    """``value op threshold`` for an objective's bound as written (``p99<2s``, ``success>=99%``,
    read by the ramp and the tuner); NaN, nothing measured, never holds."""
    return not math.isnan(value) and _COMPARISONS[op](value, threshold)
