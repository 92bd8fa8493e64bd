"""Network namespace files: create, enter from a thread, remove.

A netns file is a bind mount of a fresh namespace. A short thread unshares
CLONE_NEWNET (which, like setns, affects only that thread) and bind-mounts
``/proc/thread-self/ns/net`` onto the file: ~1 ms and no fork. Should the kernel
refuse that, a tiny child (``sys.executable -I -S -c``) does the same; the
daemon's own Python is never forked. Host-side work in another namespace runs in a short
thread that ``setns()``-es into it (setns affects only the calling thread, and
processes spawned from that thread inherit it).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import sys
import threading
from typing import Callable, TypeVar

__all__ = ["create_netns", "remove_netns", "run_in_netns", "list_netns", "NetnsError"]

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
MNT_DETACH = 2
MS_BIND = 4096
SIOCSIFFLAGS = 0x8914
IFF_UP, IFF_RUNNING = 0x1, 0x40
EINVAL = 22
ENOENT = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.setns.restype = ctypes.c_int
_libc.unshare.argtypes = [ctypes.c_int]
_libc.unshare.restype = ctypes.c_int
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_void_p]
_libc.mount.restype = ctypes.c_int
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.umount2.restype = ctypes.c_int

# The child: unshare a netns, bind-mount it on argv[1], bring lo up (SIOCSIFFLAGS).
_CHILD = r"""
import ctypes, fcntl, os, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.unshare.argtypes = [ctypes.c_int]; libc.unshare.restype = ctypes.c_int
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
libc.mount.restype = ctypes.c_int
if libc.unshare(0x40000000) != 0:
    sys.exit("unshare(CLONE_NEWNET): " + os.strerror(ctypes.get_errno()))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
req = struct.pack("16sH22x", b"lo", 0x1 | 0x40)
fcntl.ioctl(s.fileno(), 0x8914, req)
s.close()
if libc.mount(b"/proc/self/ns/net", sys.argv[1].encode(), None, 4096, None) != 0:
    sys.exit("bind mount of the netns: " + os.strerror(ctypes.get_errno()))
"""


class NetnsError(OSError):
    """A namespace file could not be made, entered or removed."""


def create_netns(path: str) -> str:
    """Create a fresh network namespace (lo up) pinned at ``path``; idempotent."""
    if _is_nsfs(path):
        return path
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)
    try:
        run_in_netns(None, _unshare_and_pin, path)
        return path
    except OSError:
        pass  # fall back to a child process
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", _CHILD, path],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        os.unlink(path)
        raise NetnsError(f"cannot create network namespace {path}: {proc.stderr.strip()}")
    return path


def remove_netns(path: str) -> None:
    """Unmount and delete a namespace file; a missing one is fine."""
    if _libc.umount2(path.encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (EINVAL, ENOENT):
            raise NetnsError(f"cannot unmount {path}: {os.strerror(err)}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _unshare_and_pin(path: str) -> None:
    """In a throwaway thread: a new netns with lo up, bind-mounted on ``path``."""
    if _libc.unshare(CLONE_NEWNET) != 0:
        raise NetnsError(f"unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", IFF_UP | IFF_RUNNING))
    if _libc.mount(b"/proc/thread-self/ns/net", path.encode(), None, MS_BIND, None) != 0:
        raise NetnsError(f"bind mount of the netns on {path}: {os.strerror(ctypes.get_errno())}")


def list_netns(directory: str) -> list[str]:
    """Paths of the namespace files in ``directory``."""
    try:
        return sorted(os.path.join(directory, n) for n in os.listdir(directory))
    except FileNotFoundError:
        return []


def _is_nsfs(path: str) -> bool:
    """True when ``path`` is a mounted namespace file."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except FileNotFoundError:
        return False


def run_in_netns(path: str | None, fn: Callable[..., T], *args, **kwargs) -> T:
    """Run ``fn`` in a new thread inside the netns at ``path`` (None: the current one)."""
    box: dict[str, object] = {}

    def body() -> None:
        try:
            if path:
                _enter(path)
            box["r"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed back to the caller's thread
            box["e"] = exc

    t = threading.Thread(target=body, name="shoal-netns", daemon=True)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]  # type: ignore[misc]
    return box["r"]  # type: ignore[return-value]


def _enter(path: str) -> None:
    """setns() the calling thread into the network namespace at ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NetnsError(f"network namespace {path} does not exist") from None
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise NetnsError(f"setns({path}): {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)
