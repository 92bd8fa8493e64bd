"""v2 pids controller: same files as v1 (pids.max, pids.current)."""

from __future__ import annotations

from engine.cgroups.v1.pids import apply as apply, stats as stats
from engine.spec import ResourceSpec

__all__ = ["CONTROLLER", "wanted", "apply", "stats"]

CONTROLLER = "pids"


def wanted(res: ResourceSpec) -> bool:
    """True if ``res`` limits the process count."""
    return res.pids_limit > 0
