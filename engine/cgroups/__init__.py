"""cgroups v1 and v2 behind one interface: ``open_driver()`` picks the right one.

Every cgroup shoal creates lives under a ``shoal/`` parent in each hierarchy.
"""

from engine.cgroups.base import (
    CgroupError as CgroupError,
    CgroupStats as CgroupStats,
    Cgroup as Cgroup,
    CgroupDriver as CgroupDriver,
    PARENT as PARENT,
)
from engine.cgroups.devices import DeviceRule as DeviceRule
from engine.cgroups.probe import open_driver as open_driver

__all__ = ["open_driver", "CgroupDriver", "Cgroup", "CgroupStats", "CgroupError", "DeviceRule", "PARENT"]
