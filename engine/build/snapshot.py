"""Overlay views for build steps that run no container (COPY, ADD, WORKDIR) and RUN-upper cleanup.

A view mounts the state's layers read-only under a fresh empty upper dir with
``redirect_dir=off,metacopy=off``, so after unmounting the upper dir is exactly
the step's diff in overlay form. The mount lives in the builder's mount namespace
only while the step writes, and is always detached in ``finally``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from typing import Iterator

from engine.images.layers import is_opaque
from engine.runtime import syscalls as sc

__all__ = ["overlay_view", "drop_engine_mountpoints", "ENGINE_MOUNTPOINTS"]

# Paths the engine creates in a container's rootfs only to mount over them
ENGINE_MOUNTPOINTS = ("etc/hosts", "etc/hostname", "etc/resolv.conf", "sbin/docker-init",
                      "proc", "sys", "dev", "dev/pipes")
_PAGE_SAFE = 3500


def _lowerdir(layer_dirs: list[str], layer_keys: list[str], layers_root: str, empty: str) -> tuple[str, str]:
    """The lowerdir option and the cwd to mount from (short relative keys when absolute paths are too long)."""
    if not layer_dirs:
        return empty, "/"
    joined = ":".join(layer_dirs)
    if len(joined) < _PAGE_SAFE:
        return joined, "/"
    return ":".join(layer_keys), layers_root


@contextlib.contextmanager
def overlay_view(layer_dirs: list[str], layer_keys: list[str], layers_root: str,
                 scratch: str) -> Iterator[tuple[str, str]]:
    """Mount layers + a new upper under ``scratch``; yields (merged dir, upper dir), unmounts after."""
    paths = {n: os.path.join(scratch, n) for n in ("upper", "work", "merged", "empty")}
    for p in paths.values():
        os.makedirs(p, exist_ok=True)
    lower, cwd = _lowerdir(layer_dirs, layer_keys, layers_root, paths["empty"])
    opts = f"lowerdir={lower},upperdir={paths['upper']},workdir={paths['work']},redirect_dir=off,metacopy=off"
    old = os.getcwd()
    os.chdir(cwd)
    try:
        sc.mount("overlay", paths["merged"], "overlay", 0, opts)
    finally:
        os.chdir(old)
    try:
        yield paths["merged"], paths["upper"]
    finally:
        sc.umount(paths["merged"], sc.MNT_DETACH)
        shutil.rmtree(paths["work"], ignore_errors=True)


def _in_lower(layer_dirs: list[str], rel: str) -> bool:
    return any(os.path.lexists(os.path.join(d, rel)) for d in layer_dirs)


def drop_engine_mountpoints(upper: str, layer_dirs: list[str]) -> None:
    """Remove empty files/dirs the engine made only as mount targets, so they stay out of the layer."""
    for rel in sorted(ENGINE_MOUNTPOINTS, key=lambda r: -r.count("/")):
        path = os.path.join(upper, rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if _in_lower(layer_dirs, rel):
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size == 0:
            os.unlink(path)
        elif stat.S_ISDIR(st.st_mode) and not os.listdir(path):
            os.rmdir(path)
    for parent in ("etc", "sbin"):
        _drop_untouched_dir(upper, parent, layer_dirs)


def _drop_untouched_dir(upper: str, rel: str, layer_dirs: list[str]) -> None:
    """Remove an empty, non-opaque upper dir that only repeats the lower dir's owner and mode."""
    path = os.path.join(upper, rel)
    if not os.path.isdir(path) or os.path.islink(path) or os.listdir(path) or is_opaque(path):
        return
    st = os.lstat(path)
    for d in layer_dirs:
        lower = os.path.join(d, rel)
        if os.path.lexists(lower):
            lst = os.lstat(lower)
            if (lst.st_mode, lst.st_uid, lst.st_gid) != (st.st_mode, st.st_uid, st.st_gid):
                return
            break
    os.rmdir(path)
