"""v1 blkio controller: proportional weight (when the kernel has one) and bytes read/written."""

from __future__ import annotations

from engine.cgroups.fs import HostFS
from engine.spec import ResourceSpec

__all__ = ["HIERARCHY", "apply", "stats"]

HIERARCHY = "blkio"
_WEIGHT_FILES = ("blkio.weight", "blkio.bfq.weight")
_STAT_FILES = ("blkio.throttle.io_service_bytes_recursive", "blkio.io_service_bytes_recursive",
               "blkio.throttle.io_service_bytes")


def apply(fs: HostFS, path: str, res: ResourceSpec) -> None:
    """Write the blkio weight; like Docker, ignored when the kernel has no weight file."""
    if not res.blkio_weight:
        return
    for name in _WEIGHT_FILES:
        if fs.exists(f"{path}/{name}"):
            fs.write(f"{path}/{name}", str(res.blkio_weight))
            return


def stats(fs: HostFS, path: str) -> dict[str, int]:
    """Bytes read and written, summed over devices ("8:0 Read 4096" lines)."""
    totals = {"io_read_bytes": 0, "io_write_bytes": 0}
    for name in _STAT_FILES:
        if fs.exists(f"{path}/{name}"):
            for line in fs.read(f"{path}/{name}").splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[1] in ("Read", "Write"):
                    totals[f"io_{parts[1].lower()}_bytes"] += int(parts[2])
            break
    return totals
