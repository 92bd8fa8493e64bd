"""ContainerSpec <-> JSON-able dict, so the spec is stored with the container and read back typed."""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any, Callable

from engine import spec as spec_mod
from engine.spec import ContainerSpec

__all__ = ["spec_to_dict", "spec_from_dict"]


def spec_to_dict(spec: ContainerSpec) -> dict:
    """A plain dict (tuples become lists)."""
    return dataclasses.asdict(spec)


def _identity(value: Any) -> Any:
    return value


def _converter(tp: Any) -> Callable[[Any], Any]:
    """A function turning JSON data into a value of type ``tp`` (worked out once per type)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _builder(tp)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        inner = next((_converter(a) for a in args if a is not type(None)), _identity)
        return lambda v: None if v is None else inner(v)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _converter(args[0])
            if item is _identity:
                return lambda v: None if v is None else tuple(v)
            return lambda v: None if v is None else tuple(item(x) for x in v)
        items = [_converter(a) for a in args]
        return lambda v: None if v is None else tuple(f(x) for f, x in zip(items, v))
    return _identity


@functools.lru_cache(maxsize=None)
def _builder(cls: type) -> Callable[[dict], Any]:
    """Build ``cls`` from a dict: field converters resolved once (decoding is on the start path)."""
    hints = typing.get_type_hints(cls, vars(spec_mod))
    fields = [(f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls)]

    def build(data: dict | None) -> Any:
        if data is None:
            return None
        return cls(**{name: conv(data[name]) for name, conv in fields if name in data})

    return build


def spec_from_dict(data: dict) -> ContainerSpec:
    """Rebuild the frozen ContainerSpec from ``spec_to_dict`` output."""
    return _builder(ContainerSpec)(data)
