"""cgroup v1 driver: one directory per controller hierarchy, all under ``shoal/``."""

from __future__ import annotations

import os
import signal
from typing import Sequence

from engine.cgroups.base import PARENT, CgroupError, CgroupStats, check_name, check_resources
from engine.cgroups.common import parse_pids, signal_frozen, wait_empty
from engine.cgroups.devices import device_rules
from engine.cgroups.fs import HostFS
from engine.cgroups.v1 import blkio, cpu, cpuset, freezer, memory, pids
from engine.cgroups.v1 import devices as devctl
from engine.spec import DeviceSpec, ResourceSpec

__all__ = ["REQUIRED", "OPTIONAL", "V1Driver", "V1Cgroup"]

REQUIRED = ("memory", "cpu", "cpuacct", "pids", "freezer", "devices")
OPTIONAL = ("cpuset", "blkio")


class V1Cgroup:
    """A container's directories ``<root>/<controller>/shoal/<name>`` in every hierarchy."""

    def __init__(self, fs: HostFS, name: str, paths: dict[str, str]) -> None:
        self.name = name
        self._fs = fs
        self._paths = paths  # controller -> directory of this cgroup

    def _p(self, controller: str) -> str:
        return self._paths[controller]

    def _dirs(self) -> list[str]:
        """Distinct directories (co-mounted controllers such as cpu,cpuacct share one)."""
        return list(dict.fromkeys(self._paths.values()))

    def add_process(self, pid: int) -> None:
        """Write ``pid`` to cgroup.procs in each hierarchy."""
        for path in self._dirs():
            self._fs.write(f"{path}/cgroup.procs", str(pid))

    def procs(self) -> list[int]:
        """Pids in the freezer hierarchy (every hierarchy holds the same set)."""
        try:
            return parse_pids(self._fs.read(f"{self._p('freezer')}/cgroup.procs"))
        except FileNotFoundError:
            return []

    def freeze(self) -> None:
        """freezer.state = FROZEN, waiting for the kernel to finish freezing."""
        freezer.set_state(self._fs, self._p("freezer"), "FROZEN")

    def thaw(self) -> None:
        """freezer.state = THAWED."""
        freezer.set_state(self._fs, self._p("freezer"), "THAWED")

    def frozen(self) -> bool:
        """True if freezer.state is FROZEN."""
        return freezer.state(self._fs, self._p("freezer")) == "FROZEN"

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """Freeze (so nobody forks meanwhile), signal all, thaw; for SIGKILL wait until empty."""
        signal_frozen(self, sig)
        if sig == signal.SIGKILL:
            wait_empty(self.procs, f"cgroup {self.name}")

    def stats(self) -> CgroupStats:
        """Counters from cpuacct, memory, pids and blkio."""
        values: dict[str, int] = {}
        values.update(cpu.stats(self._fs, self._p("cpuacct")))
        values.update(memory.stats(self._fs, self._p("memory")))
        values.update(pids.stats(self._fs, self._p("pids")))
        if "blkio" in self._paths:
            values.update(blkio.stats(self._fs, self._p("blkio")))
        return CgroupStats(**values)

    def oom_killed(self) -> bool:
        """From memory.oom_control."""
        return memory.oom_killed(self._fs, self._p("memory"))

    def remove(self) -> None:
        """rmdir in every hierarchy; missing directories are fine."""
        for path in self._dirs():
            self._fs.rmdir(path)


class V1Driver:
    """Manages ``shoal/<name>`` cgroups in each v1 controller mounted under ``root``."""

    version = 1

    def __init__(self, root: str = "/sys/fs/cgroup", fs: HostFS | None = None) -> None:
        self._root = root
        self._fs = fs or HostFS()
        self._mounts = {c: f"{root}/{c}" for c in REQUIRED + OPTIONAL if self._fs.isdir(f"{root}/{c}")}
        missing = [c for c in REQUIRED if c not in self._mounts]
        if missing:
            raise CgroupError(f"cgroup v1 controllers not mounted under {root}: {', '.join(missing)}")

    def _paths(self, name: str) -> dict[str, str]:
        return {c: f"{m}/{PARENT}/{name}" for c, m in self._mounts.items()}

    def _ensure_parent(self) -> None:
        """Create ``shoal/`` in each hierarchy (cpuset's with the root's cpus/mems)."""
        for c, mount in self._mounts.items():
            parent = f"{mount}/{PARENT}"
            if not self._fs.isdir(parent):
                try:
                    self._fs.mkdir(parent)
                except FileExistsError:
                    pass
            if c == "cpuset":
                cpuset.init_parent(self._fs, parent)

    def create(self, name: str, resources: ResourceSpec,
               devices: Sequence[DeviceSpec] = (), *, privileged: bool = False) -> V1Cgroup:
        """mkdir in every hierarchy and apply limits; on any failure remove what was made."""
        check_name(name)
        check_resources(resources)
        rules = device_rules(devices, privileged)
        self._ensure_parent()
        paths = self._paths(name)
        cg = V1Cgroup(self._fs, name, paths)
        if self._fs.isdir(paths["freezer"]):
            raise CgroupError(f"cgroup {name} already exists")
        try:
            for path in dict.fromkeys(paths.values()):
                self._mkdir(path)
            self._apply(paths, resources)
            devctl.apply(self._fs, paths["devices"], rules)
        except BaseException:
            cg.remove()
            raise
        return cg

    def _mkdir(self, path: str) -> None:
        """mkdir one hierarchy's directory; a leftover of a crashed create is reused.

        If a concurrent prune removed ``shoal/`` meanwhile, it is made again once.
        """
        try:
            self._fs.mkdir(path)
        except FileExistsError:
            pass
        except FileNotFoundError:
            self._ensure_parent()
            self._fs.mkdir(path)

    def _apply(self, paths: dict[str, str], res: ResourceSpec) -> None:
        """Write each controller's limits; cpuset and blkio only where mounted."""
        memory.apply(self._fs, paths["memory"], res)
        cpu.apply(self._fs, paths["cpu"], res)
        pids.apply(self._fs, paths["pids"], res)
        if "cpuset" in paths:
            cpuset.apply(self._fs, paths["cpuset"], res)
        elif res.cpuset_cpus or res.cpuset_mems:
            raise CgroupError("cpuset requested but the cpuset controller is not mounted")
        if "blkio" in paths:
            blkio.apply(self._fs, paths["blkio"], res)

    def open(self, name: str) -> V1Cgroup:
        """The existing cgroup ``name``."""
        paths = self._paths(check_name(name))
        if not self._fs.isdir(paths["freezer"]):
            raise CgroupError(f"no such cgroup: {name}")
        return V1Cgroup(self._fs, name, paths)

    def list(self) -> list[str]:
        """Names under ``freezer/shoal``."""
        parent = f"{self._mounts['freezer']}/{PARENT}"
        if not self._fs.isdir(parent):
            return []
        return [n for n in self._fs.listdir(parent) if self._fs.isdir(os.path.join(parent, n))]
