"""v1 pids controller: process count limit and current count."""

from __future__ import annotations

from engine.cgroups.fs import HostFS
from engine.spec import ResourceSpec

__all__ = ["HIERARCHY", "apply", "stats"]

HIERARCHY = "pids"


def apply(fs: HostFS, path: str, res: ResourceSpec) -> None:
    """Write ``pids.max`` (0 or -1 = unlimited, left at the kernel's "max")."""
    if res.pids_limit > 0:
        fs.write(f"{path}/pids.max", str(res.pids_limit))


def stats(fs: HostFS, path: str) -> dict[str, int]:
    """Current process count and limit (0 = none); same file names in v1 and v2."""
    cur, lim = f"{path}/pids.current", f"{path}/pids.max"
    limit = fs.read(lim).strip() if fs.exists(lim) else "max"
    return {
        "pids_current": int(fs.read(cur).strip() or 0) if fs.exists(cur) else 0,
        "pids_limit": 0 if limit == "max" else int(limit),
    }
