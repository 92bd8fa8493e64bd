"""v1 freezer controller: freezer.state FROZEN/THAWED, polled until the kernel settles."""

from __future__ import annotations

import time

from engine.cgroups.base import CgroupError
from engine.cgroups.fs import HostFS

__all__ = ["HIERARCHY", "set_state", "state"]

HIERARCHY = "freezer"


def state(fs: HostFS, path: str) -> str:
    """FROZEN, FREEZING or THAWED."""
    return fs.read(f"{path}/freezer.state").strip()


def set_state(fs: HostFS, path: str, want: str, timeout: float = 5.0) -> None:
    """Write ``want`` and poll until the kernel reports it (FREEZING is retried, like runc)."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        fs.write(f"{path}/freezer.state", want)
        if state(fs, path) == want:
            return
        if time.monotonic() > deadline:
            raise CgroupError(f"{path}: freezer did not reach {want} in {timeout}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
