"""Linux capabilities: Docker's default set, cap_add/cap_drop resolution, and dropping to them.

``resolve`` is pure. ``apply_identity`` runs in the container's child just before
exec; it only needs ctypes and libc loaded by soname (no ctypes.util, no asyncio).
"""

from __future__ import annotations

import ctypes
import os
from typing import Iterable

__all__ = [
    "CAPABILITIES",
    "DEFAULT_CAPABILITIES",
    "DEFAULT_MASK",
    "ALL_MASK",
    "mask",
    "names",
    "resolve",
    "apply_identity",
]

# Index = capability number (linux/capability.h).
CAPABILITIES: tuple[str, ...] = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)
_INDEX = {name: i for i, name in enumerate(CAPABILITIES)}

# Docker's (moby oci/caps) default set for unprivileged containers.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)


def _normalize(name: str) -> str:
    """"cap_net_admin" / "NET_ADMIN" -> "NET_ADMIN"; "all" -> "ALL"; unknown -> ValueError."""
    upper = name.strip().upper()
    bare = upper[4:] if upper.startswith("CAP_") else upper
    if bare != "ALL" and bare not in _INDEX:
        raise ValueError(f"unknown capability: {name!r}")
    return bare


def mask(cap_names: Iterable[str]) -> int:
    """Bitmask of the named capabilities."""
    out = 0
    for name in cap_names:
        out |= 1 << _INDEX[_normalize(name)]
    return out


def names(bits: int) -> list[str]:
    """Names of the capabilities set in ``bits``, in kernel order."""
    return [n for i, n in enumerate(CAPABILITIES) if bits >> i & 1]


DEFAULT_MASK = mask(DEFAULT_CAPABILITIES)  # 0xa80425fb
ALL_MASK = (1 << len(CAPABILITIES)) - 1


def resolve(cap_add: Iterable[str], cap_drop: Iterable[str], privileged: bool) -> int:
    """Capability bitmask for a container, with Docker's rules.

    privileged: everything. ``ALL`` in cap_add: everything minus cap_drop.
    ``ALL`` in cap_drop: only cap_add. Otherwise defaults minus cap_drop plus
    cap_add (an add wins over a drop of the same name).
    """
    adds = {_normalize(n) for n in cap_add}
    drops = {_normalize(n) for n in cap_drop}
    if privileged:
        return ALL_MASK
    if "ALL" in adds:
        return ALL_MASK & ~mask(drops - {"ALL"})
    if "ALL" in drops:
        return mask(adds)
    return (DEFAULT_MASK & ~mask(drops)) | mask(adds)


# --- side effects: only in the container child ---------------------------------

_PR_CAPBSET_READ = 23
_PR_CAPBSET_DROP = 24
_PR_SET_KEEPCAPS = 8
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(os.uname().machine, 126)  # capset(2) is arch-specific


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _libc() -> ctypes.CDLL:
    """libc by soname, with prctl/syscall signatures set."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl.restype = ctypes.c_int
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    libc.syscall.restype = ctypes.c_long
    libc.syscall.argtypes = [ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    return libc


def _check(ret: int, what: str) -> None:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _last_cap() -> int:
    """Highest capability number this kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
            return int(f.read())
    except OSError:
        return len(CAPABILITIES) - 1


def _capset(libc: ctypes.CDLL, caps: int) -> None:
    """Set effective = permitted = ``caps``, inheritable = none, for this thread."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        word = caps >> (32 * i) & 0xFFFFFFFF
        data[i].effective = data[i].permitted = word
        data[i].inheritable = 0
    _check(libc.syscall(_SYS_CAPSET, ctypes.byref(hdr), ctypes.byref(data)), "capset")


def _bounding_set(libc: ctypes.CDLL) -> int:
    """Capabilities currently in this process's bounding set."""
    return sum(1 << c for c in range(_last_cap() + 1) if libc.prctl(_PR_CAPBSET_READ, c, 0, 0, 0) == 1)


def apply_identity(uid: int, gid: int, groups: list[int], caps: int) -> None:
    """Become ``uid``/``gid`` with ``groups`` keeping exactly ``caps``, as runc does for Docker.

    Order: drop the bounding set, keep caps across setuid, set groups, gid,
    uid, then capset effective = permitted = ``caps`` and clear inheritable and
    ambient. Like Docker, a non-root user gets no ambient caps, so after exec
    its effective set is empty while the bounding set still limits setuid
    binaries. ``caps`` is clipped to what this process may hold (the host's
    bounding set can be smaller than "all", e.g. without CAP_SYS_RESOURCE).
    """
    libc = _libc()
    caps &= _bounding_set(libc)
    for cap in range(_last_cap() + 1):
        if not caps >> cap & 1:
            _check(libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")
    _check(libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0), "PR_SET_KEEPCAPS")
    os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _check(libc.prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0), "PR_SET_KEEPCAPS")
    _capset(libc, caps)
    _check(libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient caps")
