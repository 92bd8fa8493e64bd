"""cgroup v2 driver: one unified tree, containers are leaves under ``<root>/shoal``."""

from __future__ import annotations

import os
import signal
import time
from typing import Sequence

from engine.cgroups.base import PARENT, CgroupError, CgroupStats, check_name, check_resources
from engine.cgroups.common import parse_pids, signal_frozen, wait_empty
from engine.cgroups.devices import device_rules
from engine.cgroups.fs import HostFS
from engine.cgroups.v2 import cpu, cpuset, io, memory, pids
from engine.spec import DeviceSpec, ResourceSpec

__all__ = ["CONTROLLERS", "V2Driver", "V2Cgroup"]

CONTROLLERS = (cpu, cpuset, io, memory, pids)  # modules with CONTROLLER, wanted, apply


class V2Cgroup:
    """A container's leaf ``<root>/shoal/<name>``."""

    def __init__(self, fs: HostFS, name: str, path: str) -> None:
        self.name = name
        self._fs = fs
        self.path = path

    def add_process(self, pid: int) -> None:
        """Write ``pid`` to cgroup.procs."""
        self._fs.write(f"{self.path}/cgroup.procs", str(pid))

    def procs(self) -> list[int]:
        """Pids in the cgroup (none once it is gone)."""
        try:
            return parse_pids(self._fs.read(f"{self.path}/cgroup.procs"))
        except FileNotFoundError:
            return []

    def _events(self) -> dict[str, str]:
        text = self._fs.read(f"{self.path}/cgroup.events")
        return dict(line.split(" ", 1) for line in text.splitlines() if " " in line)

    def _set_frozen(self, want: bool, timeout: float = 5.0) -> None:
        """Write cgroup.freeze and wait for cgroup.events to report it."""
        self._fs.write(f"{self.path}/cgroup.freeze", "1" if want else "0")
        deadline, delay = time.monotonic() + timeout, 0.001
        while self.frozen() != want:
            if time.monotonic() > deadline:
                raise CgroupError(f"cgroup {self.name}: freeze={want} not reached in {timeout}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def freeze(self) -> None:
        """cgroup.freeze = 1, waiting for ``frozen 1``."""
        self._set_frozen(True)

    def thaw(self) -> None:
        """cgroup.freeze = 0, waiting for ``frozen 0``."""
        self._set_frozen(False)

    def frozen(self) -> bool:
        """``frozen`` in cgroup.events."""
        return self._events().get("frozen", "0").strip() == "1"

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """cgroup.kill for SIGKILL when the kernel has it (5.14+), else freeze-signal-thaw."""
        if sig == signal.SIGKILL and self._fs.exists(f"{self.path}/cgroup.kill"):
            self._fs.write(f"{self.path}/cgroup.kill", "1")
        else:
            signal_frozen(self, sig)
        if sig == signal.SIGKILL:
            wait_empty(self.procs, f"cgroup {self.name}")

    def stats(self) -> CgroupStats:
        """Counters from cpu.stat, memory.*, pids.* and io.stat (absent controllers read 0)."""
        values: dict[str, int] = {}
        for mod in (cpu, memory, pids, io):
            values.update(mod.stats(self._fs, self.path))
        return CgroupStats(**values)

    def oom_killed(self) -> bool:
        """From memory.events."""
        return memory.oom_killed(self._fs, self.path)

    def remove(self) -> None:
        """rmdir the leaf; a missing one is fine."""
        self._fs.rmdir(self.path)


class V2Driver:
    """Manages ``<root>/shoal/<name>`` leaves, enabling the controllers shoal needs on the way."""

    version = 2

    def __init__(self, root: str = "/sys/fs/cgroup", fs: HostFS | None = None) -> None:
        self._root = root
        self._fs = fs or HostFS()
        self._parent = f"{root}/{PARENT}"

    def available(self) -> set[str]:
        """Controllers the root offers (the probe reads them)."""
        from engine.cgroups.probe import controllers

        return controllers(self._root, self._fs)

    def _enable(self, path: str, names: set[str]) -> None:
        """Add ``names`` to ``path``'s cgroup.subtree_control where not enabled yet."""
        current = set(self._fs.read(f"{path}/cgroup.subtree_control").split())
        missing = sorted(names - current)
        if missing:
            self._fs.write(f"{path}/cgroup.subtree_control", " ".join("+" + n for n in missing))

    def _ensure_parent(self) -> set[str]:
        """Create ``shoal/`` and delegate our controllers down to it; returns those enabled."""
        usable = self.available() & {m.CONTROLLER for m in CONTROLLERS}
        self._enable(self._root, usable)
        if not self._fs.isdir(self._parent):
            try:
                self._fs.mkdir(self._parent)
            except FileExistsError:
                pass
        self._enable(self._parent, usable)
        return usable

    def create(self, name: str, resources: ResourceSpec,
               devices: Sequence[DeviceSpec] = (), *, privileged: bool = False) -> V2Cgroup:
        """mkdir the leaf, apply limits and the device filter; on failure remove it again."""
        check_name(name)
        check_resources(resources)
        rules = device_rules(devices, privileged)
        usable = self._ensure_parent()
        lacking = [m.CONTROLLER for m in CONTROLLERS if m.wanted(resources) and m.CONTROLLER not in usable]
        if lacking:
            raise CgroupError(f"cgroup v2 controllers not available for limits: {', '.join(lacking)}")
        path = f"{self._parent}/{name}"
        try:
            self._mkdir_leaf(path)
        except FileExistsError:
            raise CgroupError(f"cgroup {name} already exists") from None
        cg = V2Cgroup(self._fs, name, path)
        try:
            for mod in CONTROLLERS:
                if mod.CONTROLLER in usable:
                    mod.apply(self._fs, path, resources)
            if not privileged:
                self._fs.attach_devices(path, rules)
        except BaseException:
            cg.remove()
            raise
        return cg

    def _mkdir_leaf(self, path: str) -> None:
        """mkdir, re-creating ``shoal/`` once if a concurrent prune removed it meanwhile."""
        try:
            self._fs.mkdir(path)
        except FileNotFoundError:
            self._ensure_parent()
            self._fs.mkdir(path)

    def open(self, name: str) -> V2Cgroup:
        """The existing cgroup ``name``."""
        path = f"{self._parent}/{check_name(name)}"
        if not self._fs.isdir(path):
            raise CgroupError(f"no such cgroup: {name}")
        return V2Cgroup(self._fs, name, path)

    def list(self) -> list[str]:
        """Names of the leaves under ``shoal/``."""
        if not self._fs.isdir(self._parent):
            return []
        return [n for n in self._fs.listdir(self._parent) if self._fs.isdir(os.path.join(self._parent, n))]
