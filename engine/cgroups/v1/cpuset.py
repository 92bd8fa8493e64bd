"""v1 cpuset controller: cpus/mems must be set (inherited if unspecified) before attaching."""

from __future__ import annotations

import os

from engine.cgroups.fs import HostFS
from engine.spec import ResourceSpec

__all__ = ["HIERARCHY", "init_parent", "apply"]

HIERARCHY = "cpuset"


def _inherit(fs: HostFS, path: str) -> None:
    """Copy empty cpuset.cpus/mems from the parent directory: v1 starts them empty."""
    parent = os.path.dirname(path)
    for key in ("cpuset.cpus", "cpuset.mems"):
        if not fs.read(f"{path}/{key}").strip():
            fs.write(f"{path}/{key}", fs.read(f"{parent}/{key}").strip())


def init_parent(fs: HostFS, path: str) -> None:
    """Give the ``shoal`` parent the root's cpus/mems so children can attach."""
    _inherit(fs, path)


def apply(fs: HostFS, path: str, res: ResourceSpec) -> None:
    """Write the requested cpus/mems, inheriting the parent's for anything unset."""
    if res.cpuset_cpus:
        fs.write(f"{path}/cpuset.cpus", res.cpuset_cpus)
    if res.cpuset_mems:
        fs.write(f"{path}/cpuset.mems", res.cpuset_mems)
    _inherit(fs, path)
