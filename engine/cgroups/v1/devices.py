"""v1 devices controller: deny everything, then allow each rule."""

from __future__ import annotations

from typing import Sequence

from engine.cgroups.devices import DeviceRule
from engine.cgroups.fs import HostFS

__all__ = ["HIERARCHY", "apply"]

HIERARCHY = "devices"


def apply(fs: HostFS, path: str, rules: Sequence[DeviceRule]) -> None:
    """Write ``a`` to devices.deny, then one devices.allow line per rule."""
    if any(r.type == "a" for r in rules):
        fs.write(f"{path}/devices.allow", "a")
        return
    fs.write(f"{path}/devices.deny", "a")
    for rule in rules:
        fs.write(f"{path}/devices.allow", rule.v1_line())
