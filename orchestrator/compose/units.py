"""Durations and byte sizes, parsed and printed exactly as Docker Compose does.

Durations follow Go's ``time.ParseDuration`` (plus ``d`` and ``w`` as
compose-go's str2duration accepts) and print like Go's ``Duration.String``
(``1m30s``, ``2m0s``, ``1.5s``, ``500ms``). Byte sizes follow go-units'
``RAMInBytes`` (base 1024, case-insensitive, ``512m`` = 536870912).
Durations are kept as integer nanoseconds so nothing is lost to rounding.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = [
    "parse_duration",
    "format_duration",
    "duration_seconds",
    "parse_bytes",
    "canonical_duration",
    "canonical_bytes",
]

NANOSECOND = 1
MICROSECOND = 1000
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "µs": MICROSECOND,
    "μs": MICROSECOND,
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
    "d": 24 * HOUR,
    "w": 7 * 24 * HOUR,
}
_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h|d|w)")


def parse_duration(value: str | int | float) -> int:
    """Parse a Compose duration (``1m30s``, ``1.5s``; a bare number is seconds) to nanoseconds."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, (int, float)):
        return int(Decimal(str(value)) * SECOND)
    text = str(value).strip()
    sign = 1
    if text and text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise ValueError(f"invalid duration {value!r}")
    total = Decimal(0)
    pos = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None or match.group(1) in ("", "."):
            raise ValueError(f"invalid duration {value!r}")
        total += Decimal(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * int(total)


def _fraction(value: int, unit: int) -> str:
    """``value/unit`` as Go prints it: integer part, then trailing-zero-free decimals."""
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{rest:0{digits}d}".rstrip("0")


def format_duration(ns: int) -> str:
    """Print nanoseconds like Go's ``time.Duration.String`` (``1m0s``, ``1.5s``, ``500ms``)."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < MICROSECOND:
        return f"{sign}{ns}ns"
    if ns < MILLISECOND:
        return f"{sign}{_fraction(ns, MICROSECOND)}µs"
    if ns < SECOND:
        return f"{sign}{_fraction(ns, MILLISECOND)}ms"
    hours, ns = divmod(ns, HOUR)
    minutes, ns = divmod(ns, MINUTE)
    seconds = _fraction(ns, SECOND)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def duration_seconds(value: str | int | float) -> float:
    """A Compose duration as float seconds, for the typed model."""
    return parse_duration(value) / SECOND


def canonical_duration(value: str | int | float) -> str:
    """Re-print a duration the way ``docker compose config`` does (``60s`` -> ``1m0s``)."""
    return format_duration(parse_duration(value))


_SIZE = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_MULT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(value: str | int | float) -> int:
    """Parse a byte size like go-units ``RAMInBytes`` (``512m``, ``1.5g``, ``1024``; ``-1`` allowed)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid size: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"-[0-9]+", text):
        return int(text)
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"invalid size: '{value}'")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        raise ValueError(f"invalid size: '{value}'") from None
    return int(number * _MULT[(match.group(2) or "").lower()])


def canonical_bytes(value: str | int | float) -> str:
    """A byte size as ``docker compose config`` prints it: a decimal string of bytes."""
    return str(parse_bytes(value))
