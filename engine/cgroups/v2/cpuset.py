"""v2 cpuset controller: cpuset.cpus / cpuset.mems (empty inherits from the parent)."""

from __future__ import annotations

from engine.cgroups.fs import HostFS
from engine.spec import ResourceSpec

__all__ = ["CONTROLLER", "wanted", "apply"]

CONTROLLER = "cpuset"


def wanted(res: ResourceSpec) -> bool:
    """True if ``res`` pins cpus or memory nodes."""
    return bool(res.cpuset_cpus or res.cpuset_mems)


def apply(fs: HostFS, path: str, res: ResourceSpec) -> None:
    """Write the requested cpus and mems."""
    if res.cpuset_cpus:
        fs.write(f"{path}/cpuset.cpus", res.cpuset_cpus)
    if res.cpuset_mems:
        fs.write(f"{path}/cpuset.mems", res.cpuset_mems)
