"""A simulated cgroupfs under a temp dir: the files a kernel would create, and its reactions.

Drivers run unchanged on it through the ``HostFS`` seam. Processes are real
(children the test started): cgroup.procs lists the live ones, cgroup.kill
really SIGKILLs them, so kill_all and remove behave as on a kernel.
"""

from __future__ import annotations

import errno
import os
import signal
from typing import Sequence

from engine.cgroups import bpf
from engine.cgroups.base import CgroupError
from engine.cgroups.devices import DeviceRule
from engine.cgroups.fs import HostFS

__all__ = ["FakeCgroupFS", "V1_CONTROLLERS", "V2_CONTROLLERS"]

V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")
V2_CONTROLLERS = ("cpu", "cpuset", "io", "memory", "pids")
_NOLIMIT = "9223372036854771712"

_V1_FILES = {
    "memory": {"memory.limit_in_bytes": _NOLIMIT, "memory.memsw.limit_in_bytes": _NOLIMIT,
               "memory.soft_limit_in_bytes": _NOLIMIT, "memory.usage_in_bytes": "0",
               "memory.max_usage_in_bytes": "0",
               "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"},
    "cpu": {"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1", "cpu.shares": "1024"},
    "cpuacct": {"cpuacct.usage": "0"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "pids": {"pids.max": "max", "pids.current": "0"},
    "freezer": {"freezer.state": "THAWED"},
    "devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
    "blkio": {"blkio.weight": "500", "blkio.throttle.io_service_bytes_recursive": "Total 0\n"},
}
_V2_FILES = {
    "memory": {"memory.max": "max", "memory.swap.max": "max", "memory.low": "0", "memory.current": "0",
               "memory.peak": "0", "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"},
    "cpu": {"cpu.max": "max 100000", "cpu.weight": "100"},
    "pids": {"pids.max": "max", "pids.current": "0"},
    "io": {"io.weight": "default 100", "io.stat": ""},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
}
_V2_CORE = {"cgroup.procs": "", "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.freeze": "0",
            "cgroup.kill": "", "cgroup.subtree_control": "", "cpu.stat": "usage_usec 0\n"}


def _alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie (the kernel drops zombies from cgroup.procs)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class FakeCgroupFS(HostFS):
    """HostFS over a plain directory that answers the way cgroupfs does."""

    def __init__(self, root: str, version: int) -> None:
        self.root, self.version = root, version
        self.procs: dict[str, list[int]] = {}  # cgroup dir -> pids written to it
        self.device_filters: dict[str, bytes] = {}  # v2 cgroup dir -> BPF program attached
        self.device_rules: dict[str, tuple[DeviceRule, ...]] = {}
        os.makedirs(root, exist_ok=True)
        if version == 1:
            for c in V1_CONTROLLERS:
                os.makedirs(f"{root}/{c}", exist_ok=True)
                self._fill(f"{root}/{c}", {"cgroup.procs": "", **_V1_FILES[c]})
                if c == "cpuset":
                    self._fill(f"{root}/{c}", {"cpuset.cpus": "0-3", "cpuset.mems": "0"})
        else:
            self._fill(root, {**_V2_CORE, "cgroup.controllers": " ".join(V2_CONTROLLERS)})

    @staticmethod
    def _fill(path: str, files: dict[str, str]) -> None:
        for name, content in files.items():
            with open(f"{path}/{name}", "w", encoding="ascii") as f:
                f.write(content)

    def mkdir(self, path: str) -> None:
        """mkdir plus the control files the kernel would show in the new cgroup."""
        os.mkdir(path)
        if self.version == 1:
            controller = os.path.relpath(path, self.root).split("/")[0]
            self._fill(path, {"cgroup.procs": "", **_V1_FILES[controller]})
            return
        enabled = self.read(f"{os.path.dirname(path)}/cgroup.subtree_control").split()
        files = {**_V2_CORE, "cgroup.controllers": " ".join(enabled)}
        for c in enabled:
            files.update(_V2_FILES[c])
        self._fill(path, files)

    def rmdir(self, path: str, timeout: float = 0.2) -> None:
        """EBUSY while processes or child cgroups remain, like the kernel."""
        if not os.path.isdir(path):
            return
        busy = self._live(path) or any(os.path.isdir(f"{path}/{n}") for n in os.listdir(path))
        if busy:
            raise CgroupError(f"cannot remove {path}: {os.strerror(errno.EBUSY)}")
        for name in os.listdir(path):
            os.unlink(f"{path}/{name}")
        os.rmdir(path)
        self.procs.pop(path, None)

    def _live(self, path: str) -> list[int]:
        return [p for p in self.procs.get(path, []) if _alive(p)]

    def read(self, path: str) -> str:
        """File content, with live values for cgroup.procs and pids.current."""
        d, name = os.path.split(path)
        if name == "cgroup.procs":
            if not os.path.exists(path):
                raise FileNotFoundError(path)
            return "".join(f"{p}\n" for p in self._live(d))
        if name == "pids.current" and os.path.exists(path):
            return f"{len(self._live(d))}\n"
        return super().read(path)

    def write(self, path: str, value: str) -> None:
        """Reject files the kernel would not have; otherwise store and react."""
        if not os.path.isfile(path):
            raise CgroupError(f"cannot open {path}: {os.strerror(errno.ENOENT)}")
        d, name = os.path.split(path)
        if name == "cgroup.procs":
            self._move(int(value), d)
            return
        react = {"cgroup.kill": self._kill, "cgroup.freeze": self._freeze,
                 "cgroup.subtree_control": self._subtree, "devices.deny": self._deny,
                 "devices.allow": self._allow}.get(name)
        if react:
            react(d, value)
        else:
            self._fill(d, {name: value})

    def _move(self, pid: int, dest: str) -> None:
        """A pid is in exactly one cgroup per hierarchy."""
        hierarchy = os.path.relpath(dest, self.root).split("/")[0] if self.version == 1 else ""
        for d, pids in self.procs.items():
            if os.path.relpath(d, self.root).split("/")[0] == hierarchy or self.version == 2:
                if pid in pids:
                    pids.remove(pid)
        self.procs.setdefault(dest, []).append(pid)

    def _kill(self, d: str, value: str) -> None:
        for pid in self._live(d):
            os.kill(pid, signal.SIGKILL)

    def _freeze(self, d: str, value: str) -> None:
        self._fill(d, {"cgroup.freeze": value, "cgroup.events": f"populated 0\nfrozen {value.strip()}\n"})

    def _subtree(self, d: str, value: str) -> None:
        current = set(super().read(f"{d}/cgroup.subtree_control").split())
        offered = set(super().read(f"{d}/cgroup.controllers").split())
        for tok in value.split():
            if tok[1:] not in offered:
                raise CgroupError(f"cannot write {tok} to {d}/cgroup.subtree_control: No such file or directory")
            (current.add if tok[0] == "+" else current.discard)(tok[1:])
        self._fill(d, {"cgroup.subtree_control": " ".join(sorted(current))})

    def _deny(self, d: str, value: str) -> None:
        if value.strip() == "a":
            self._fill(d, {"devices.list": ""})

    def _allow(self, d: str, value: str) -> None:
        line = "a *:* rwm" if value.strip() == "a" else value.strip()
        with open(f"{d}/devices.list", "a", encoding="ascii") as f:
            f.write(line + "\n")

    def attach_devices(self, path: str, rules: Sequence[DeviceRule]) -> None:
        """Record the program the real driver would attach (bpf(2) needs a real cgroup)."""
        self.device_rules[path] = tuple(rules)
        self.device_filters[path] = bpf.program(rules)
