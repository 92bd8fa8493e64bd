"""ContainerSpec <-> JSON-able dict, so the spec is stored with the container and read back typed."""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any

from engine import spec as spec_mod
from engine.spec import ContainerSpec

__all__ = ["spec_to_dict", "spec_from_dict"]


def spec_to_dict(spec: ContainerSpec) -> dict:
    """A plain dict (tuples become lists)."""
    return dataclasses.asdict(spec)


def _convert(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if value is None:
        return None
    if dataclasses.is_dataclass(tp):
        return _build(tp, value)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        for arg in args:
            if arg is type(None):
                continue
            return _convert(arg, value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value))
    return value


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(spec_mod))


def _build(cls: type, data: dict) -> Any:
    hints = _hints(cls)
    kwargs = {f.name: _convert(hints[f.name], data[f.name])
              for f in dataclasses.fields(cls) if f.name in data}
    return cls(**kwargs)


def spec_from_dict(data: dict) -> ContainerSpec:
    """Rebuild the frozen ContainerSpec from ``spec_to_dict`` output."""
    return _build(ContainerSpec, data)
