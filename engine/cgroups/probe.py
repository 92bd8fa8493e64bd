"""Decide, once, whether a cgroup root is v1 (per-controller mounts) or v2 (unified)."""

from __future__ import annotations

import os

from engine.cgroups.base import CgroupDriver, CgroupError
from engine.cgroups.fs import HostFS

__all__ = ["CGROUP2_SUPER_MAGIC", "detect", "controllers", "open_driver"]

CGROUP2_SUPER_MAGIC = 0x63677270
_V1_MARKERS = ("memory", "freezer", "pids", "cpu")


def detect(root: str, fs: HostFS | None = None) -> int:
    """2 if ``root`` is a unified hierarchy (it has cgroup.controllers), 1 if it holds v1 mounts.

    A hybrid host (tmpfs at /sys/fs/cgroup, cgroup2 only at ``unified/``) is v1:
    its controllers are bound to the v1 hierarchies.
    """
    fs = fs or HostFS()
    if fs.exists(os.path.join(root, "cgroup.controllers")):
        return 2
    if any(fs.isdir(os.path.join(root, m)) for m in _V1_MARKERS):
        return 1
    raise CgroupError(f"no cgroup filesystem found at {root}")


def controllers(root: str, fs: HostFS | None = None) -> set[str]:
    """Controllers a unified (v2) hierarchy offers at ``root``."""
    fs = fs or HostFS()
    return set(fs.read(os.path.join(root, "cgroup.controllers")).split())


def open_driver(root: str = "/sys/fs/cgroup", fs: HostFS | None = None) -> CgroupDriver:
    """The driver for the cgroup filesystem at ``root`` (``fs`` lets tests simulate one)."""
    fs = fs or HostFS()
    if detect(root, fs) == 2:
        from engine.cgroups.v2 import V2Driver

        return V2Driver(root, fs)
    from engine.cgroups.v1 import V1Driver

    return V1Driver(root, fs)
