"""Build the container's filesystem in its own mount namespace, then pivot_root into it.

Order follows runc: private propagation, overlay root, /proc, /dev (+pts, shm,
mqueue), /sys read-only, caller mounts, /etc files, the init binary, pivot_root,
then sysctls, read-only paths, masked paths and a read-only root if asked.
Every target is resolved inside the rootfs (see safepath) and mounted via its fd.
"""

from __future__ import annotations

import errno
import os

from engine.runtime import syscalls as sc
from engine.runtime.cgroupfs import mount_cgroupfs
from engine.runtime.devices import populate_dev
from engine.runtime.safepath import ensure_in_root, fd_path, open_in_root

__all__ = ["DEFAULT_MASKED", "DEFAULT_READONLY", "prepare_rootfs", "pivot", "finalize_rootfs",
           "mount_flags"]

DEFAULT_MASKED = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                  "/sys/firmware", "/sys/devices/virtual/powercap")
DEFAULT_READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

_PROP = {"private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC, "shared": sc.MS_SHARED,
         "rshared": sc.MS_SHARED | sc.MS_REC, "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC}
_OPT_FLAGS = {"ro": sc.MS_RDONLY, "nosuid": sc.MS_NOSUID, "nodev": sc.MS_NODEV, "noexec": sc.MS_NOEXEC}
_NSE = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC


def mount_flags(options: list[str]) -> tuple[int, list[str]]:
    """Split mount options into MS_* flags and the data options the filesystem gets."""
    flags, data = 0, []
    for opt in options:
        if opt in _OPT_FLAGS:
            flags |= _OPT_FLAGS[opt]
        elif opt not in ("rw", "bind", "rbind", "suid", "dev", "exec"):
            data.append(opt)
    return flags, data


def _at(root_fd: int, target: str, fstype: str | None, flags: int, data: str | None,
        source: str | None = None, kind: str = "dir") -> None:
    """Mount onto ``target`` resolved inside the rootfs, through its O_PATH fd."""
    fd = ensure_in_root(root_fd, target, kind)
    try:
        sc.mount(source if source is not None else fstype, fd_path(fd), fstype, flags, data)
    finally:
        os.close(fd)


def _bind(root_fd: int, source: str, target: str, readonly: bool, extra: int = 0,
          propagation: str = "") -> None:
    """Bind ``source`` (host path) onto ``target`` (inside rootfs), read-only if asked."""
    src_fd = os.open(source, os.O_PATH | os.O_CLOEXEC)
    try:
        kind = "dir" if os.path.isdir(fd_path(src_fd)) else "file"
        fd = ensure_in_root(root_fd, target, kind)
        try:
            sc.mount(fd_path(src_fd), fd_path(fd), None, sc.MS_BIND | sc.MS_REC)
        finally:
            os.close(fd)
    finally:
        os.close(src_fd)
    if not (readonly or extra or propagation not in ("", "private", "rprivate")):
        return
    fd = open_in_root(root_fd, target)  # now the new mount's root, not the covered directory
    try:
        if readonly or extra:
            _restrict(fd, extra | (sc.MS_RDONLY if readonly else 0))
        if propagation not in ("", "private", "rprivate"):
            sc.mount(None, fd_path(fd), None, _PROP[propagation])
    finally:
        os.close(fd)


def _restrict(fd: int, flags: int) -> None:
    """Make the bind mount at ``fd`` and every mount below it ro/nosuid/nodev/noexec as asked.

    A plain bind remount changes only the top mount: a host submount (``/run`` under a
    ``/:/host:ro`` volume) would stay writable. Kernels without mount_setattr get the old way.
    """
    try:
        sc.mount_setattr(fd, "", sc.AT_EMPTY_PATH | sc.AT_RECURSIVE, flags)
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOSYS, errno.EINVAL):
            raise
    path = fd_path(fd)
    sc.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | flags | _locked_flags(path))


def _locked_flags(path: str) -> int:
    """nosuid/nodev/noexec already on a mount, which a bind remount must keep."""
    return os.statvfs(path).f_flag & _NSE


def _system_mounts(root_fd: int, plan: dict) -> None:
    """/proc, /dev and friends, /sys."""
    _at(root_fd, "/proc", "proc", _NSE, None)
    _at(root_fd, "/dev", "tmpfs", sc.MS_NOSUID | sc.MS_STRICTATIME, "mode=755,size=65536k")
    dev_fd = open_in_root(root_fd, "/dev", os.O_PATH | os.O_DIRECTORY)
    try:
        populate_dev(dev_fd, plan.get("devices", []))
    finally:
        os.close(dev_fd)
    _at(root_fd, "/dev/pts", "devpts", sc.MS_NOSUID | sc.MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620,gid=5")
    shm = plan.get("shm_size") or 64 * 1024 * 1024
    _at(root_fd, "/dev/shm", "tmpfs", _NSE, f"mode=1777,size={shm}")
    try:
        _at(root_fd, "/dev/mqueue", "mqueue", _NSE, None)
    except OSError:
        pass  # ipc namespace shared with a peer we may not mount for
    try:
        _at(root_fd, "/sys", "sysfs", _NSE | sc.MS_RDONLY, None)
    except PermissionError:  # host network namespace: sysfs refuses a new instance
        _bind(root_fd, "/sys", "/sys", True)
    mount_cgroupfs(root_fd, plan.get("cgroupfs", []))
    if plan.get("console"):
        _at(root_fd, "/dev/console", None, sc.MS_BIND, None, source=plan["console"], kind="file")


def _user_mounts(root_fd: int, plan: dict) -> None:
    """Caller binds, volumes and tmpfs in spec order, then /etc files and the init binary."""
    for m in plan.get("mounts", []):
        flags, data = mount_flags(m.get("options", []))
        if m["type"] == "tmpfs":
            opts = [f"mode={m.get('mode', 0o1777):o}"] + data
            if m.get("size"):
                opts.append(f"size={m['size']}")
            flags |= sc.MS_RDONLY if m.get("read_only") else 0
            _at(root_fd, m["target"], "tmpfs", flags | sc.MS_NOSUID | sc.MS_NODEV, ",".join(opts))
        else:
            _bind(root_fd, m["source"], m["target"], bool(m.get("read_only")), flags & _NSE,
                  m.get("propagation", ""))
    for target, source in plan.get("etc_files", {}).items():
        _bind(root_fd, source, target, False)
    if plan.get("init_binary"):
        _bind(root_fd, plan["init_binary"], plan["init_path"], True)


def prepare_rootfs(plan: dict) -> str:
    """Mount everything under the overlay root ``plan['merged']``; runs in a fresh mount ns."""
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    merged = plan["merged"]
    lower = ":".join(plan["lower"])
    if len(lower) > 3000 and plan.get("lower_keys"):  # mount data is limited to one page
        os.chdir(plan["lower_keys"][0])
        lower = ":".join(plan["lower_keys"][1])
    sc.mount("overlay", merged, "overlay", 0,
             f"lowerdir={lower},upperdir={plan['upper']},workdir={plan['work']}")
    root_fd = os.open(merged, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _system_mounts(root_fd, plan)
        _user_mounts(root_fd, plan)
    finally:
        os.close(root_fd)
    return merged


def pivot(merged: str) -> None:
    """pivot_root into ``merged`` without a temporary directory, and drop the old root."""
    os.chdir(merged)
    sc.pivot_root(".", ".")
    sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
    sc.umount(".", sc.MNT_DETACH)
    os.chdir("/")


def _readonly(path: str) -> None:
    if not os.path.lexists(path):
        return
    sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
    sc.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | _locked_flags(path))


def _mask(path: str) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if os.path.isdir(fd_path(fd)):
            sc.mount("tmpfs", fd_path(fd), "tmpfs", sc.MS_RDONLY, "nr_blocks=1,nr_inodes=1")
        else:
            null = os.open("/dev/null", os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                if os.stat(fd_path(null)).st_rdev != os.makedev(1, 3):
                    raise OSError(f"/dev/null is not the null device; refusing to mask {path}")
                sc.mount(fd_path(null), fd_path(fd), None, sc.MS_BIND)
            finally:
                os.close(null)
    finally:
        os.close(fd)


def finalize_rootfs(plan: dict) -> None:
    """After pivot_root: sysctls, read-only and masked paths, read-only root."""
    for key, value in plan.get("sysctls", []):
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)
    for path in plan.get("readonly_paths", DEFAULT_READONLY):
        _readonly(path)
    for path in plan.get("masked_paths", DEFAULT_MASKED):
        _mask(path)
    if plan.get("read_only_rootfs"):
        sc.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC)
