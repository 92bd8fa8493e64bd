"""v2 io controller: io.weight (converted from blkio weight like runc), bytes from io.stat."""

from __future__ import annotations

from engine.cgroups.convert import blkio_to_io_weight
from engine.cgroups.fs import HostFS
from engine.spec import ResourceSpec

__all__ = ["CONTROLLER", "wanted", "apply", "stats"]

CONTROLLER = "io"


def wanted(res: ResourceSpec) -> bool:
    """True if ``res`` sets a blkio weight."""
    return bool(res.blkio_weight)


def apply(fs: HostFS, path: str, res: ResourceSpec) -> None:
    """Write io.bfq.weight (same scale as blkio) when BFQ is in use, else io.weight."""
    if not res.blkio_weight:
        return
    if fs.exists(f"{path}/io.bfq.weight"):
        fs.write(f"{path}/io.bfq.weight", str(res.blkio_weight))
    elif fs.exists(f"{path}/io.weight"):
        fs.write(f"{path}/io.weight", f"default {blkio_to_io_weight(res.blkio_weight)}")


def stats(fs: HostFS, path: str) -> dict[str, int]:
    """Bytes read/written summed over devices ("8:0 rbytes=1 wbytes=2 ..." lines)."""
    totals = {"io_read_bytes": 0, "io_write_bytes": 0}
    if fs.exists(f"{path}/io.stat"):
        for line in fs.read(f"{path}/io.stat").splitlines():
            for field in line.split()[1:]:
                key, _, value = field.partition("=")
                if key == "rbytes":
                    totals["io_read_bytes"] += int(value)
                elif key == "wbytes":
                    totals["io_write_bytes"] += int(value)
    return totals
