"""Checks done at create time, so bad input fails with a clear error before anything is made."""

from __future__ import annotations

import os

from engine.errors import BindSourceNotFound, InvalidSpec, MemoryTooLow, RootfsNotFound
from engine.runtime.process import RLIMITS
from engine.runtime.safepath import open_in_root
from engine.runtime.users import resolve_identity
from engine.spec import ContainerSpec

__all__ = ["MIN_MEMORY", "check_resources", "check_mounts", "check_sysctls", "check_user",
           "read_rootfs_file", "check_rootfs_dir"]

MIN_MEMORY = 6 * 1024 * 1024  # Docker's minimum memory limit
_NS_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
               "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


def check_rootfs_dir(path: str) -> None:
    """An absolute rootfs must be an existing directory."""
    if not os.path.isdir(path):
        raise RootfsNotFound(f"rootfs directory {path!r} does not exist")


def check_resources(spec: ContainerSpec) -> None:
    """Memory floor and known ulimit names."""
    mem = spec.resources.memory
    if mem and mem < MIN_MEMORY:
        raise MemoryTooLow(f"Minimum memory limit allowed is 6MB (got {mem} bytes)")
    for ul in spec.resources.ulimits:
        if ul.name not in RLIMITS:
            raise InvalidSpec(f"invalid ulimit {ul.name!r}")
        if ul.soft > ul.hard:
            raise InvalidSpec(f"ulimit {ul.name}: soft limit {ul.soft} is above hard limit {ul.hard}")


def check_mounts(spec: ContainerSpec) -> None:
    """Targets must be absolute; bind sources must exist unless create_host_path."""
    for m in spec.mounts:
        if not m.target.startswith("/"):
            raise InvalidSpec(f"mount target {m.target!r} must be an absolute path")
        if m.type == "bind":
            if not m.source.startswith("/"):
                raise InvalidSpec(f"bind source {m.source!r} must be an absolute path")
            if not os.path.exists(m.source):
                if not m.create_host_path:
                    raise BindSourceNotFound(f"bind source path does not exist: {m.source}")
        elif m.type == "volume" and not m.source:
            raise InvalidSpec(f"volume mount at {m.target} needs a volume name")


def check_sysctls(spec: ContainerSpec) -> None:
    """Only namespaced sysctls; net.* and IPC ones need the container's own namespace."""
    for key, _ in spec.security.sysctls:
        if key.startswith("net."):
            if spec.namespaces.network == "host":
                raise InvalidSpec(f"sysctl {key!r} is not allowed in the host network namespace")
        elif not (key in _NS_SYSCTLS or key.startswith("fs.mqueue.")):
            raise InvalidSpec(f"sysctl {key!r} is not namespaced and cannot be set per container")
        elif spec.namespaces.ipc == "host":  # IPC sysctls would change the host's own settings
            raise InvalidSpec(f"sysctl {key!r} is not allowed in the host IPC namespace")


def read_rootfs_file(layers: list[str], path: str) -> str:
    """A file as the container will see it (top layer first), resolved inside each layer."""
    for layer in layers:
        root = os.open(layer, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fd = open_in_root(root, path, os.O_RDONLY)
        except OSError:
            continue
        finally:
            os.close(root)
        with os.fdopen(fd, encoding="utf-8", errors="replace") as f:
            return f.read()
    return ""


def check_user(spec: ContainerSpec, layers: list[str], user: str) -> None:
    """The user and extra groups must exist in the rootfs (numeric ids always do)."""
    resolve_identity(user, read_rootfs_file(layers, "/etc/passwd"),
                     read_rootfs_file(layers, "/etc/group"), spec.group_add)
