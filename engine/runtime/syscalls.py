"""Thin ctypes wrappers for the syscalls Python 3.11 lacks (mount, unshare, setns, pivot_root, ...).

Every foreign function has restype/argtypes set; errors raise OSError with errno.
Loaded with the soname (no ctypes.util) so the monitor stays light.
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = [
    "CLONE_NEWNS", "CLONE_NEWCGROUP", "CLONE_NEWUTS", "CLONE_NEWIPC", "CLONE_NEWUSER",
    "CLONE_NEWPID", "CLONE_NEWNET",
    "MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_NOEXEC", "MS_REMOUNT", "MS_BIND", "MS_MOVE",
    "MS_REC", "MS_PRIVATE", "MS_SLAVE", "MS_SHARED", "MS_UNBINDABLE", "MS_STRICTATIME", "MNT_DETACH",
    "mount", "umount", "unshare", "setns", "pivot_root", "openat2", "prctl", "close_range",
    "sethostname", "setdomainname",
    "PR_SET_PDEATHSIG", "PR_SET_DUMPABLE", "PR_SET_NO_NEW_PRIVS", "PR_SET_CHILD_SUBREAPER",
    "RESOLVE_NO_MAGICLINKS", "RESOLVE_IN_ROOT", "RESOLVE_NO_XDEV",
    "mount_setattr", "AT_RECURSIVE", "AT_EMPTY_PATH",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10

AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000

_SYSCALLS = {
    "x86_64": {"pivot_root": 155, "openat2": 437, "close_range": 436, "mount_setattr": 442},
    "aarch64": {"pivot_root": 41, "openat2": 437, "close_range": 436, "mount_setattr": 442},
}
_NR = _SYSCALLS.get(platform.machine(), _SYSCALLS["x86_64"])

_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_mount = _libc.mount
_mount.restype = ctypes.c_int
_mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_umount2 = _libc.umount2
_umount2.restype = ctypes.c_int
_umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_unshare = _libc.unshare
_unshare.restype = ctypes.c_int
_unshare.argtypes = [ctypes.c_int]
_setns = _libc.setns
_setns.restype = ctypes.c_int
_setns.argtypes = [ctypes.c_int, ctypes.c_int]
_prctl = _libc.prctl
_prctl.restype = ctypes.c_int
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_sethostname = _libc.sethostname
_sethostname.restype = ctypes.c_int
_sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_setdomainname = _libc.setdomainname
_setdomainname.restype = ctypes.c_int
_setdomainname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def _syscall_fn(*argtypes: object) -> ctypes._CFuncPtr:
    """A private syscall(2) function pointer with its own argtypes (indexing makes a new one)."""
    fn = _libc["syscall"]
    fn.restype = ctypes.c_long
    fn.argtypes = [ctypes.c_long, *argtypes]
    return fn



class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


_sys_pivot = _syscall_fn(ctypes.c_char_p, ctypes.c_char_p)
_sys_openat2 = _syscall_fn(ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(_OpenHow), ctypes.c_size_t)
_sys_close_range = _syscall_fn(ctypes.c_uint, ctypes.c_uint, ctypes.c_uint)
_sys_mount_setattr = _syscall_fn(ctypes.c_int, ctypes.c_char_p, ctypes.c_uint,
                                 ctypes.POINTER(_MountAttr), ctypes.c_size_t)


def _check(ret: int, what: str, path: str | None = None) -> int:
    """Raise OSError with errno when a libc call returned -1."""
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return ret


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    """mount(2)."""
    _check(_mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
           f"mount {fstype or 'bind'} {source or ''} ({data or ''})", target)


def umount(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    _check(_umount2(_b(target), flags), "umount", target)


def unshare(flags: int) -> None:
    """unshare(2)."""
    _check(_unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    """setns(2) on an open namespace file descriptor."""
    _check(_setns(fd, nstype), "setns")


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2), which glibc does not wrap."""
    _check(_sys_pivot(_NR["pivot_root"], _b(new_root), _b(put_old)), "pivot_root", new_root)


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2): open ``path`` relative to ``dirfd`` with RESOLVE_* restrictions."""
    how = _OpenHow(flags, mode, resolve)
    return _check(_sys_openat2(_NR["openat2"], dirfd, _b(path), ctypes.byref(how),
                           ctypes.sizeof(how)), "openat2", path)


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    """close_range(2); flags=4 (CLOSE_RANGE_CLOEXEC) marks them close-on-exec instead."""
    _check(_sys_close_range(_NR["close_range"], first, last, flags), "close_range")


def mount_setattr(dirfd: int, path: str, flags: int, attr_set: int, attr_clr: int = 0) -> None:
    """mount_setattr(2) (Linux 5.12+); MOUNT_ATTR_RDONLY/NOSUID/NODEV/NOEXEC equal the MS_* values."""
    attr = _MountAttr(attr_set, attr_clr, 0, 0)
    _check(_sys_mount_setattr(_NR["mount_setattr"], dirfd, _b(path), flags, ctypes.byref(attr),
                              ctypes.sizeof(attr)), "mount_setattr", path)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2)."""
    return _check(_prctl(option, arg2, arg3, arg4, arg5), "prctl")


def sethostname(name: str) -> None:
    """sethostname(2) in the current UTS namespace."""
    raw = name.encode()
    _check(_sethostname(raw, len(raw)), "sethostname")


def setdomainname(name: str) -> None:
    """setdomainname(2) in the current UTS namespace."""
    raw = name.encode()
    _check(_setdomainname(raw, len(raw)), "setdomainname")
