"""cgroup v1: one module per controller, and the driver that ties them together."""

from engine.cgroups.v1.driver import V1Cgroup as V1Cgroup, V1Driver as V1Driver

__all__ = ["V1Cgroup", "V1Driver"]
