"""v1 cpu and cpuacct controllers: CFS quota, shares, and CPU time used."""

from __future__ import annotations

from engine.cgroups.convert import CPU_PERIOD, cpu_quota
from engine.cgroups.fs import HostFS
from engine.spec import ResourceSpec

__all__ = ["HIERARCHY", "ACCT_HIERARCHY", "apply", "stats"]

HIERARCHY = "cpu"
ACCT_HIERARCHY = "cpuacct"  # a separate mount on some hosts, "cpu,cpuacct" on others


def apply(fs: HostFS, path: str, res: ResourceSpec) -> None:
    """Write quota/period for ``cpus`` and ``cpu.shares``."""
    if res.cpus:
        fs.write(f"{path}/cpu.cfs_period_us", str(CPU_PERIOD))
        fs.write(f"{path}/cpu.cfs_quota_us", str(cpu_quota(res.cpus)))
    if res.cpu_shares:
        fs.write(f"{path}/cpu.shares", str(res.cpu_shares))


def stats(fs: HostFS, acct_path: str) -> dict[str, int]:
    """CPU time consumed by the cgroup, in nanoseconds (cpuacct.usage)."""
    usage = f"{acct_path}/cpuacct.usage"
    return {"cpu_usage_ns": int(fs.read(usage).strip() or 0) if fs.exists(usage) else 0}
