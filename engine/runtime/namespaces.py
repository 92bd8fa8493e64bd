"""Create or join the container's namespaces, per the plan's mode for each kind.

A mode is "private" (fresh), "host" (stay), or a namespace file path to join
(``/proc/<pid>/ns/net``, ``/run/netns/x``). The pid namespace is handled by the
monitor before it forks, because unshare(CLONE_NEWPID) applies to children only.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct

from engine.runtime import syscalls as sc

__all__ = ["NS_FLAGS", "private_flags", "open_joins", "join", "enter", "loopback_up"]

NS_FLAGS = {"ipc": sc.CLONE_NEWIPC, "uts": sc.CLONE_NEWUTS, "net": sc.CLONE_NEWNET,
            "cgroup": sc.CLONE_NEWCGROUP, "pid": sc.CLONE_NEWPID, "mnt": sc.CLONE_NEWNS}
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def private_flags(modes: dict[str, str], kinds: tuple[str, ...]) -> int:
    """CLONE_NEW* flags for every kind whose mode asks for a fresh namespace."""
    flags = 0
    for kind in kinds:
        if modes.get(kind, "private") in ("private", "none", "shareable"):
            flags |= NS_FLAGS[kind]
    return flags


def open_joins(modes: dict[str, str], kinds: tuple[str, ...]) -> list[tuple[int, int]]:
    """Open (fd, nstype) for every kind whose mode is a namespace path to join."""
    out = []
    for kind in kinds:
        mode = modes.get(kind, "private")
        if mode.startswith("/"):
            out.append((os.open(mode, os.O_RDONLY | os.O_CLOEXEC), NS_FLAGS[kind]))
    return out


def join(fds: list[tuple[int, int]]) -> None:
    """setns into each opened namespace and close its fd."""
    for fd, nstype in fds:
        sc.setns(fd, nstype)
        os.close(fd)


def enter(modes: dict[str, str], kinds: tuple[str, ...] = ("ipc", "uts", "net", "cgroup")) -> None:
    """Join shared namespaces, then unshare the private ones (always a fresh mount namespace)."""
    join(open_joins(modes, kinds))
    sc.unshare(sc.CLONE_NEWNS | private_flags(modes, kinds))


def loopback_up() -> None:
    """Bring ``lo`` up in a fresh network namespace (ioctl, no netlink needed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags | _IFF_UP))
