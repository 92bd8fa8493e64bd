"""cgroup v2: one module per controller, the driver, and (in ../bpf.py) the device filter."""

from engine.cgroups.v2.driver import V2Cgroup as V2Cgroup, V2Driver as V2Driver

__all__ = ["V2Cgroup", "V2Driver"]
