"""Resolve paths inside a container rootfs so a symlink can never point out of it.

Uses openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): an absolute symlink in the
rootfs resolves against the rootfs, and ``..`` stops at its top. Missing parents
are created one component at a time, through directory fds, never by host path.
"""

from __future__ import annotations

import errno
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


def _link_target(root_fd: int, parent_fd: int, parents: list[str], name: str) -> str | None:
    """Where the symlink ``name`` in the directory ``parent_fd`` points, as an absolute rootfs path.

    A relative link is taken from the parent's real place in the rootfs (its path may itself
    have gone through symlinks); the result is resolved inside the root again by the caller.
    """
    try:
        link = os.readlink(name, dir_fd=parent_fd)
    except OSError:
        return None  # not a symlink
    base = "/" + "/".join(parents)
    try:
        root, here = os.readlink(fd_path(root_fd)), os.readlink(fd_path(parent_fd))
        if here == root or here.startswith(root.rstrip("/") + "/"):
            base = "/" + here[len(root):].lstrip("/")
    except OSError:
        pass
    return posixpath.join(base, link)


def ensure_in_root(root_fd: int, path: str, kind: str = "dir", mode: int = 0o755, _depth: int = 0) -> int:
    """Return an O_PATH fd for ``path`` inside the rootfs, creating it (``dir`` or ``file``) if missing.

    A dangling symlink on the way (``/etc/resolv.conf -> ../run/systemd/...``) is followed
    inside the rootfs and its target created there, as runc does.
    """
    if _depth > 40:
        raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
    parts = _parts(path)
    for i in range(len(parts) + 1):
        sub = "/".join(parts[:i]) or "."
        try:
            fd = open_in_root(root_fd, sub)
        except FileNotFoundError:
            parent = open_in_root(root_fd, "/".join(parts[: i - 1]) or ".", os.O_PATH | os.O_DIRECTORY)
            try:
                target = _link_target(root_fd, parent, parts[: i - 1], parts[i - 1])
                if target is not None:
                    rest = "/".join([target, *parts[i:]])
                    return ensure_in_root(root_fd, rest, kind, mode, _depth + 1)
                _create(parent, parts[i - 1], "file" if i == len(parts) else "dir", kind, mode)
            finally:
                os.close(parent)
            fd = open_in_root(root_fd, sub)
        if i < len(parts):
            os.close(fd)
        else:
            return fd
    raise AssertionError("unreachable")


def _create(parent: int, name: str, last: str, kind: str, mode: int) -> None:
    """Make ``name`` in ``parent``: a file when it is the last component of a ``file`` target."""
    try:
        if last == "file" and kind == "file":
            os.close(os.open(name, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644,
                             dir_fd=parent))
        else:
            os.mkdir(name, mode, dir_fd=parent)
    except FileExistsError:
        pass
