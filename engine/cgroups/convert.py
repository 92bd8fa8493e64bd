"""Pure conversions from ResourceSpec values to the numbers cgroup files take."""

from __future__ import annotations

from engine.spec import ResourceSpec

__all__ = ["CPU_PERIOD", "cpu_quota", "shares_to_weight", "blkio_to_io_weight", "swap_total", "swap_only"]

CPU_PERIOD = 100_000  # microseconds, Docker's and the kernel's default CFS period


def cpu_quota(cpus: float) -> int:
    """CFS quota in microseconds per CPU_PERIOD for ``cpus`` CPUs (0 = no quota)."""
    return round(cpus * CPU_PERIOD) if cpus > 0 else 0


def shares_to_weight(shares: int) -> int:
    """v1 cpu.shares [2, 262144] to v2 cpu.weight [1, 10000], the way runc converts."""
    if shares <= 0:
        return 0
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """v1 blkio.weight [10, 1000] to v2 io.weight [1, 10000], the way runc converts."""
    if weight <= 0:
        return 0
    return 1 + ((weight - 10) * 9999) // 990


def swap_total(res: ResourceSpec) -> int:
    """Memory+swap limit in bytes (v1 memsw): -1 unlimited, 0 none; Docker's 0 means 2x memory."""
    if not res.memory or res.memory_swap == -1:
        return -1 if res.memory and res.memory_swap == -1 else 0
    return res.memory_swap if res.memory_swap > 0 else 2 * res.memory


def swap_only(res: ResourceSpec) -> int:
    """Swap-only limit in bytes for v2 memory.swap.max: -1 unlimited, 0 = no swap allowed."""
    total = swap_total(res)
    return total if total <= 0 else total - res.memory
