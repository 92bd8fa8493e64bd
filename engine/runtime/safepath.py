"""Resolve paths inside a container rootfs so a symlink can never point out of it.

Uses openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): an absolute symlink in the
rootfs resolves against the rootfs, and ``..`` stops at its top. Missing parents
are created one component at a time, through directory fds, never by host path.
"""

from __future__ import annotations

import os
import posixpath

from engine.runtime import syscalls as sc

__all__ = ["open_in_root", "ensure_in_root", "fd_path"]

_RESOLVE = sc.RESOLVE_IN_ROOT | sc.RESOLVE_NO_MAGICLINKS


def fd_path(fd: int) -> str:
    """The /proc/self/fd path through which a mount can target an already-resolved fd."""
    return f"/proc/self/fd/{fd}"


def _parts(path: str) -> list[str]:
    norm = posixpath.normpath("/" + path.lstrip("/"))
    return [p for p in norm.split("/") if p]


def open_in_root(root_fd: int, path: str, flags: int = os.O_PATH) -> int:
    """Open ``path`` as seen from inside the rootfs ``root_fd`` (O_PATH by default)."""
    rel = "/".join(_parts(path)) or "."
    return sc.openat2(root_fd, rel, flags | os.O_CLOEXEC, _RESOLVE)


def ensure_in_root(root_fd: int, path: str, kind: str = "dir", mode: int = 0o755) -> int:
    """Return an O_PATH fd for ``path`` inside the rootfs, creating it (``dir`` or ``file``) if missing."""
    parts = _parts(path)
    for i in range(len(parts) + 1):
        sub = "/".join(parts[:i]) or "."
        try:
            fd = open_in_root(root_fd, sub)
        except FileNotFoundError:
            parent = open_in_root(root_fd, "/".join(parts[: i - 1]) or ".", os.O_PATH | os.O_DIRECTORY)
            try:
                if i == len(parts) and kind == "file":
                    os.close(os.open(parts[i - 1], os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW,
                                     0o644, dir_fd=parent))
                else:
                    os.mkdir(parts[i - 1], mode, dir_fd=parent)
            except FileExistsError:
                pass
            finally:
                os.close(parent)
            fd = open_in_root(root_fd, sub)
        if i < len(parts):
            os.close(fd)
        else:
            return fd
    raise AssertionError("unreachable")
