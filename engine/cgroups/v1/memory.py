"""v1 memory controller: limit, memory+swap, soft limit, OOM killer switch, usage, OOM kills."""

from __future__ import annotations

from engine.cgroups.convert import swap_total
from engine.cgroups.fs import HostFS
from engine.spec import ResourceSpec

__all__ = ["HIERARCHY", "apply", "stats", "oom_killed"]

HIERARCHY = "memory"
_UNLIMITED = 1 << 62  # v1 reports "no limit" as PAGE_COUNTER_MAX pages, just under 2**63


def apply(fs: HostFS, path: str, res: ResourceSpec) -> None:
    """Write the memory limits of ``res`` (memory first: memsw must stay >= memory)."""
    if res.memory:
        fs.write(f"{path}/memory.limit_in_bytes", str(res.memory))
        memsw = f"{path}/memory.memsw.limit_in_bytes"
        if fs.exists(memsw):  # only with swap accounting (swapaccount=1)
            fs.write(memsw, str(swap_total(res)))
    if res.memory_reservation:
        fs.write(f"{path}/memory.soft_limit_in_bytes", str(res.memory_reservation))
    if res.oom_kill_disable:
        fs.write(f"{path}/memory.oom_control", "1")


def _int(fs: HostFS, path: str) -> int:
    """Integer content of a counter file, 0 when absent."""
    return int(fs.read(path).strip() or 0) if fs.exists(path) else 0


def stats(fs: HostFS, path: str) -> dict[str, int]:
    """Usage, limit (0 = none) and peak usage in bytes."""
    limit = _int(fs, f"{path}/memory.limit_in_bytes")
    return {
        "memory_usage": _int(fs, f"{path}/memory.usage_in_bytes"),
        "memory_limit": 0 if limit >= _UNLIMITED else limit,
        "memory_max_usage": _int(fs, f"{path}/memory.max_usage_in_bytes"),
    }


def oom_killed(fs: HostFS, path: str) -> bool:
    """True if the OOM killer acted here (``oom_kill`` counter, else ``under_oom``)."""
    ctl = f"{path}/memory.oom_control"
    if not fs.exists(ctl):
        return False
    fields = dict(line.split(None, 1) for line in fs.read(ctl).splitlines() if " " in line)
    if "oom_kill" in fields:  # kernel >= 4.13
        return int(fields["oom_kill"]) > 0
    return fields.get("under_oom", "0").strip() == "1"
