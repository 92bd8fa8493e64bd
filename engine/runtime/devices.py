"""The container's /dev: a private tmpfs with Docker's standard nodes, links and requested devices."""

from __future__ import annotations

import os
import stat

from engine.errors import DeviceNotFound

__all__ = ["STANDARD_NODES", "populate_dev", "describe_host_device"]

# name, type, major, minor (Docker's defaults; console only with a tty)
STANDARD_NODES = (("null", "c", 1, 3), ("zero", "c", 1, 5), ("full", "c", 1, 7),
                  ("random", "c", 1, 8), ("urandom", "c", 1, 9), ("tty", "c", 5, 0))
_LINKS = (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
          ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"))


def describe_host_device(host_path: str, container_path: str = "", permissions: str = "rwm") -> dict:
    """Stat a host device node into a plan entry; a missing or non-device path raises DeviceNotFound."""
    try:
        st = os.stat(host_path)
    except OSError as exc:
        raise DeviceNotFound(f"error gathering device information while adding custom device "
                             f"{host_path!r}: {exc.strerror}") from None
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise DeviceNotFound(f"{host_path!r} is not a device node")
    return {"path": container_path or host_path, "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
            "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
            "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
            "permissions": permissions}


def _mknod(dir_fd: int, name: str, kind: str, major: int, minor: int, mode: int = 0o666) -> None:
    flag = stat.S_IFCHR if kind == "c" else stat.S_IFBLK
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    os.mknod(name, flag | mode, os.makedev(major, minor), dir_fd=dir_fd)
    os.chmod(name, mode, dir_fd=dir_fd)


def populate_dev(dev_fd: int, extra: list[dict]) -> None:
    """Create the standard nodes and links in the /dev tmpfs open as ``dev_fd``, then ``extra`` devices."""
    for name, kind, major, minor in STANDARD_NODES:
        _mknod(dev_fd, name, kind, major, minor)
    for name, target in _LINKS:
        os.symlink(target, name, dir_fd=dev_fd)
    for sub in ("pts", "shm", "mqueue"):
        os.mkdir(sub, 0o755, dir_fd=dev_fd)
    for dev in extra:
        rel = os.path.relpath(os.path.normpath(dev["path"]), "/dev")
        if rel.startswith(".."):
            continue  # handled by the generic mount code (outside /dev): not supported
        parent = os.path.dirname(rel)
        if parent:
            os.makedirs(os.path.join(f"/proc/self/fd/{dev_fd}", parent), exist_ok=True)
        _mknod(dev_fd, rel, dev["type"], dev["major"], dev["minor"], dev["mode"])
        os.chown(rel, dev["uid"], dev["gid"], dir_fd=dev_fd)
