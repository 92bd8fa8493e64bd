"""A read-only /sys/fs/cgroup inside the container, like Docker's.

With a private cgroup namespace (entered after the monitor placed the process
in its cgroup), each hierarchy mounted here shows the container's own cgroup as
its root, so programs can read their limits but never see or change the host's.
"""

from __future__ import annotations

import os

from engine.runtime import syscalls as sc
from engine.runtime.safepath import ensure_in_root, fd_path, open_in_root

__all__ = ["host_hierarchies", "mount_cgroupfs"]

_BASE = "/sys/fs/cgroup"
_FLAGS = sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC


def host_hierarchies(mountinfo: str) -> list[dict]:
    """cgroup mounts of the host under /sys/fs/cgroup, as (target, fstype, data) dicts (pure)."""
    out = []
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or len(rest) < 3 or rest[0] not in ("cgroup", "cgroup2"):
            continue
        target = fields[4]
        if target != _BASE and not target.startswith(_BASE + "/"):
            continue
        opts = [o for o in rest[2].split(",") if o not in ("rw", "ro")]
        if rest[0] == "cgroup" and not any(not o.startswith("name=") for o in opts):
            opts.insert(0, "none")
        out.append({"target": target, "fstype": rest[0], "data": ",".join(opts)})
    return out


def mount_cgroupfs(root_fd: int, hierarchies: list[dict]) -> None:
    """Mount every hierarchy read-only; a tmpfs holds them on v1/hybrid hosts."""
    if not hierarchies:
        return
    if any(h["target"] != _BASE for h in hierarchies):
        fd = ensure_in_root(root_fd, _BASE)
        try:
            sc.mount("tmpfs", fd_path(fd), "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, "mode=755")
        finally:
            os.close(fd)
    for h in hierarchies:
        try:
            fd = ensure_in_root(root_fd, h["target"])
        except OSError:
            continue
        try:
            sc.mount("cgroup", fd_path(fd), h["fstype"], _FLAGS, h["data"] or None)
        except OSError:
            pass  # a hierarchy the kernel refuses to show (best effort, like Docker on hybrid hosts)
        finally:
            os.close(fd)
    if any(h["target"] != _BASE for h in hierarchies):
        fd = open_in_root(root_fd, _BASE)
        try:
            sc.mount(None, fd_path(fd), None, sc.MS_REMOUNT | _FLAGS, "mode=755")
        finally:
            os.close(fd)
