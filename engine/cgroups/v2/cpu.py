"""v2 cpu controller: cpu.max quota, cpu.weight from shares; usage from cpu.stat (always present)."""

from __future__ import annotations

from engine.cgroups.convert import CPU_PERIOD, cpu_quota, shares_to_weight
from engine.cgroups.fs import HostFS
from engine.spec import ResourceSpec

__all__ = ["CONTROLLER", "wanted", "apply", "stats"]

CONTROLLER = "cpu"


def wanted(res: ResourceSpec) -> bool:
    """True if ``res`` sets a quota or shares."""
    return bool(res.cpus or res.cpu_shares)


def apply(fs: HostFS, path: str, res: ResourceSpec) -> None:
    """Write ``cpu.max`` = "quota period" and ``cpu.weight``."""
    if res.cpus:
        fs.write(f"{path}/cpu.max", f"{cpu_quota(res.cpus)} {CPU_PERIOD}")
    if res.cpu_shares:
        fs.write(f"{path}/cpu.weight", str(shares_to_weight(res.cpu_shares)))


def stats(fs: HostFS, path: str) -> dict[str, int]:
    """CPU time in nanoseconds (cpu.stat usage_usec)."""
    stat = f"{path}/cpu.stat"
    if fs.exists(stat):
        for line in fs.read(stat).splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return {"cpu_usage_ns": int(value) * 1000}
    return {"cpu_usage_ns": 0}
