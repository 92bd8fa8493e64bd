"""v2 memory controller: memory.max, memory.swap.max (swap only), memory.low, events, usage."""

from __future__ import annotations

from engine.cgroups.convert import swap_only
from engine.cgroups.fs import HostFS
from engine.spec import ResourceSpec

__all__ = ["CONTROLLER", "wanted", "apply", "stats", "oom_killed"]

CONTROLLER = "memory"


def wanted(res: ResourceSpec) -> bool:
    """True if ``res`` asks for anything this controller enforces."""
    return bool(res.memory or res.memory_reservation)


def apply(fs: HostFS, path: str, res: ResourceSpec) -> None:
    """Write the limits; oom_kill_disable has no v2 equivalent and is ignored, as Docker does."""
    if res.memory:
        fs.write(f"{path}/memory.max", str(res.memory))
        swap = f"{path}/memory.swap.max"
        if fs.exists(swap):  # absent without swap accounting
            limit = swap_only(res)
            fs.write(swap, "max" if limit < 0 else str(limit))
    if res.memory_reservation:
        fs.write(f"{path}/memory.low", str(res.memory_reservation))


def _value(fs: HostFS, path: str) -> int:
    """A single-number file; "max" or absent -> 0."""
    if not fs.exists(path):
        return 0
    text = fs.read(path).strip()
    return 0 if text in ("", "max") else int(text)


def stats(fs: HostFS, path: str) -> dict[str, int]:
    """Usage, limit (0 = none) and peak (memory.peak, kernel >= 5.19)."""
    return {
        "memory_usage": _value(fs, f"{path}/memory.current"),
        "memory_limit": _value(fs, f"{path}/memory.max"),
        "memory_max_usage": _value(fs, f"{path}/memory.peak"),
    }


def oom_killed(fs: HostFS, path: str) -> bool:
    """True if memory.events counts an ``oom_kill``."""
    events = f"{path}/memory.events"
    if not fs.exists(events):
        return False
    for line in fs.read(events).splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value) > 0
    return False
