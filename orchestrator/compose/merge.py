"""Merge one compose model over another, as Compose merges ``-f`` files (spec 13-merge.md).

Default rules: mappings merge key by key, sequences are concatenated, scalars
are replaced; an override value of ``null`` keeps the base value. Fields with
other rules are listed in :data:`RULES`, keyed by path pattern (see
:mod:`.paths`), following compose-go ``override/merge.go``. Sequences are
de-duplicated afterwards by :func:`.unicity.enforce_unicity`.

``!reset`` and ``!override`` (recorded by :mod:`.parse`) arrive as path sets:
reset paths are removed from the base before merging, override paths take
the override value whole.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable

from . import paths
from .errors import ComposeError, Pos

__all__ = ["merge_models", "merge_value", "go_str", "to_sequence", "RULES"]

Path = tuple
Locate = Callable[[Path], "Pos | None"]


@dataclass(frozen=True)
class _Ctx:
    """What every merger needs besides the two values: ``!override`` paths, error positions."""

    overrides: frozenset
    pos: Locate | None = None

    def error(self, message: str, path: Path) -> ComposeError:
        return ComposeError(message, self.pos(path) if self.pos else None)


Merger = Callable[[Any, Any, Path, _Ctx], Any]


def _go_float(value: float) -> str:
    """Format a float like Go's ``%v`` (shortest digits, ``e`` form from 1e+06 on)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits_t, exp = Decimal(repr(value)).as_tuple()
    digits = list(digits_t)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    text = "".join(map(str, digits))
    point = len(digits) + exp
    x = point - 1
    prefix = "-" if sign else ""
    if x < -4 or x >= 6:
        mant = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mant}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def go_str(value: Any) -> str:
    """Render a YAML scalar as Go's ``fmt`` ``%v`` does (``true``, ``3``, ``1e+06``)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, list):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_str(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
        return f"map[{inner}]"
    return str(value)


def to_sequence(value: Any) -> list:
    """A mapping becomes sorted ``KEY=VAL`` (``KEY`` alone for null); a string a 1-item list."""
    if isinstance(value, dict):
        seq: list[str] = []
        for key, val in value.items():
            if val is None:
                seq.append(str(key))
            elif isinstance(val, list):
                seq.extend(f"{key}={go_str(v)}" for v in val)
            else:
                seq.append(f"{key}={go_str(val)}")
        return sorted(seq)
    if isinstance(value, list):
        return list(value)
    if value is None:
        return []
    return [value]


def _to_mapping(value: Any, default: dict | None) -> dict:
    """A list of names becomes ``{name: default}`` (a fresh copy each); a mapping stays."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(n): (None if default is None else dict(default)) for n in value}
    return {}


def _mappings(base: dict, other: dict, path: Path, ctx: _Ctx) -> dict:
    out = dict(base)
    for key, value in other.items():
        if key not in out:
            out[key] = value
        else:
            out[key] = merge_value(out[key], value, path + (key,), ctx)
    return out


def _replace(base: Any, other: Any, path: Path, ctx: _Ctx) -> Any:
    return other


def _sequence(base: Any, other: Any, path: Path, ctx: _Ctx) -> Any:
    return to_sequence(base) + to_sequence(other)


def _extra_hosts(base: Any, other: Any, path: Path, ctx: _Ctx) -> Any:
    left = to_sequence(base)
    return left + [item for item in to_sequence(other) if item not in left]


def _logging(base: Any, other: Any, path: Path, ctx: _Ctx) -> Any:
    """Options merge only if both use the same driver, or one of them names none."""
    if not isinstance(base, dict) or not isinstance(other, dict):
        return base if other is None else other
    if "driver" not in base or "driver" not in other or base["driver"] == other["driver"]:
        return _mappings(base, other, path, ctx)
    return other


def _as_build(value: Any) -> dict:
    if isinstance(value, str):
        return {"context": value}
    return value if isinstance(value, dict) else {}


def _build(base: Any, other: Any, path: Path, ctx: _Ctx) -> Any:
    return _mappings(_as_build(base), _as_build(other), path, ctx)


_STARTED = {"condition": "service_started", "required": True}


def _depends_on(base: Any, other: Any, path: Path, ctx: _Ctx) -> Any:
    return _mappings(_to_mapping(base, _STARTED), _to_mapping(other, _STARTED), path, ctx)


def _name_map(base: Any, other: Any, path: Path, ctx: _Ctx) -> Any:
    return _mappings(_to_mapping(base, None), _to_mapping(other, None), path, ctx)


def _ulimit(base: Any, other: Any, path: Path, ctx: _Ctx) -> Any:
    # compose-go merges the override with itself: a redefined ulimit replaces the base one.
    return other


def _ipam_config(base: Any, other: Any, path: Path, ctx: _Ctx) -> Any:
    """IPAM pools are matched by ``subnet``: same subnet merges, a new one is appended."""
    if not isinstance(base, list) or not isinstance(other, list):
        raise ctx.error(f"{paths.dotted(path)}: unexpected type, expected a sequence", path)
    out = [item for item in base]
    for item in other:
        subnet = item.get("subnet") if isinstance(item, dict) else None
        for i, existing in enumerate(out):
            if isinstance(existing, dict) and isinstance(item, dict) and existing.get("subnet") == subnet:
                out[i] = _mappings(existing, item, path, ctx)
                break
        else:
            out.append(item)
    return out


RULES: dict[str, Merger] = {
    "networks.*.ipam.config": _ipam_config,
    "networks.*.labels": _sequence,
    "volumes.*.labels": _sequence,
    "services.*.annotations": _sequence,
    "services.*.build": _build,
    "services.*.build.args": _sequence,
    "services.*.build.additional_contexts": _sequence,
    "services.*.build.extra_hosts": _extra_hosts,
    "services.*.build.labels": _sequence,
    "services.*.command": _replace,
    "services.*.depends_on": _depends_on,
    "services.*.deploy.labels": _sequence,
    "services.*.dns": _sequence,
    "services.*.dns_opt": _sequence,
    "services.*.dns_search": _sequence,
    "services.*.entrypoint": _replace,
    "services.*.env_file": _sequence,
    "services.*.label_file": _sequence,
    "services.*.environment": _sequence,
    "services.*.extra_hosts": _extra_hosts,
    "services.*.healthcheck.test": _replace,
    "services.*.labels": _sequence,
    "services.*.logging": _logging,
    "services.*.models": _name_map,
    "services.*.networks": _name_map,
    "services.*.sysctls": _sequence,
    "services.*.tmpfs": _sequence,
    "services.*.ulimits.*": _ulimit,
}


def merge_value(base: Any, other: Any, path: Path, ctx: _Ctx | None = None) -> Any:
    """Merge ``other`` over ``base`` found at ``path`` (both already private copies)."""
    ctx = ctx or _Ctx(frozenset())
    if path in ctx.overrides:
        return other
    rule = paths.lookup(RULES, path)
    if rule is not None:
        return rule(base, other, path, ctx)
    if other is None:
        return base
    if isinstance(base, dict):
        if not isinstance(other, dict):
            raise ctx.error(f"cannot override {paths.dotted(path)}: a mapping cannot be replaced by a "
                            f"{type(other).__name__}", path)
        return _mappings(base, other, path, ctx)
    if isinstance(base, list):
        if not isinstance(other, list):
            raise ctx.error(f"cannot override {paths.dotted(path)}: a sequence cannot be replaced by a "
                            f"{type(other).__name__}", path)
        return base + other
    return other


def _remove(model: Any, path: Path) -> None:
    """Delete ``path`` from ``model`` if it is there (a ``!reset``)."""
    node = model
    for elem in path[:-1]:
        if isinstance(node, dict) and elem in node:
            node = node[elem]
        elif isinstance(node, list) and isinstance(elem, int) and 0 <= elem < len(node):
            node = node[elem]
        else:
            return
    last = path[-1]
    if isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and isinstance(last, int):
        if 0 <= last < len(node):
            del node[last]
    elif isinstance(node, list):
        # A mapping (environment, labels...) already merged into KEY=VAL form: drop that key.
        node[:] = [item for item in node if not _has_key(item, str(last))]


def _has_key(item: Any, key: str) -> bool:
    return isinstance(item, str) and (item == key or item.startswith(key + "="))


def _reset_order(path: Path) -> tuple:
    # Remove later list items first so earlier indexes stay valid.
    return (len(path), path[-1] if path and isinstance(path[-1], int) else -1)


def merge_models(
    base: dict,
    override: dict,
    resets: Iterable[Path] = (),
    overrides: Iterable[Path] = (),
    pos: Locate | None = None,
) -> dict:
    """Merge the ``override`` model over ``base``; neither input is modified.

    ``resets`` paths (``!reset``) are removed from the base first;
    ``overrides`` paths (``!override``) take the override value as is.
    The result is not de-duplicated: call :func:`.unicity.enforce_unicity`.
    ``pos`` (e.g. the override ``Document.pos``) places errors at a line.
    """
    if not isinstance(base, dict) or not isinstance(override, dict):
        raise ComposeError("top-level object must be a mapping")
    base = copy.deepcopy(base)
    override = copy.deepcopy(override)
    for path in sorted((tuple(p) for p in resets if p), key=_reset_order, reverse=True):
        _remove(base, path)
    ctx = _Ctx(frozenset(tuple(p) for p in overrides), pos)
    return merge_value(base, override, (), ctx)
