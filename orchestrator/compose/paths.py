"""Path patterns over model paths, so per-field rules can be tables, not if-chains.

A model *path* is a tuple of mapping keys and list indexes, as in
``parse.Document.positions``: ``("services", "web", "environment")``.
A *pattern* is a dotted string whose segments match one path element each;
``*`` matches any single element: ``"services.*.environment"``.

Keys may themselves contain dots (``net.ipv4.ip_forward``); that is fine,
because patterns are matched element by element against the tuple, and rule
patterns never need to spell such keys.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping, TypeVar

__all__ = ["match", "lookup", "split", "dotted"]

V = TypeVar("V")


@lru_cache(maxsize=512)
def split(pattern: str) -> tuple[str, ...]:
    """The segments of ``pattern`` (cached: rule tables are matched very often)."""
    return tuple(pattern.split(".")) if pattern else ()


def match(pattern: str, path: tuple[Any, ...]) -> bool:
    """True when ``path`` has as many elements as ``pattern`` and each one matches."""
    segments = split(pattern)
    if len(segments) != len(path):
        return False
    return all(seg == "*" or seg == str(elem) for seg, elem in zip(segments, path))


def _specificity(pattern: str) -> tuple[int, str]:
    return (split(pattern).count("*"), pattern)


def lookup(table: Mapping[str, V], path: tuple[Any, ...]) -> V | None:
    """The value of the most specific pattern of ``table`` matching ``path``, or None.

    Fewer wildcards win, then the pattern text, so the choice never depends on
    the table's order.
    """
    found: tuple[tuple[int, str], V] | None = None
    for pattern, value in table.items():
        if match(pattern, path):
            rank = _specificity(pattern)
            if found is None or rank < found[0]:
                found = (rank, value)
    return None if found is None else found[1]


def dotted(path: tuple[Any, ...]) -> str:
    """A path written the way compose messages write it: ``services.web.ports[0]``."""
    out = ""
    for elem in path:
        if isinstance(elem, int):
            out += f"[{elem}]"
        else:
            out += ("." if out else "") + str(elem)
    return out
