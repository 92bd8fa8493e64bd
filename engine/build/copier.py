"""COPY/ADD file operations into a mounted build view, every path resolved inside its root.

Sources are opened with RESOLVE_IN_ROOT in their own root (context dir or another
stage's view), destinations are created through directory fds in the target root,
so no symlink in an image can make the builder read or write host files.
Docker's rules: a directory source copies its contents; several sources need a
destination ending in ``/``; owners are 0:0 unless ``--chown``; modes and mtimes kept.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass

from engine.images.layers import apply_tar
from engine.runtime.safepath import ensure_in_root, fd_path, open_in_root
from engine.runtime.users import parse_group, parse_passwd

__all__ = ["CopyError", "CopyOptions", "resolve_chown", "copy_sources", "read_in_root", "exists_in_root"]


class CopyError(ValueError):
    """A COPY/ADD that cannot be done as written."""


@dataclass(frozen=True)
class CopyOptions:
    """How copied entries are owned and moded."""

    uid: int | None = 0  # None: keep the source owner (ADD of a tar)
    gid: int | None = 0
    chmod: int | None = None
    extract: bool = False  # ADD: unpack local tar archives


def read_in_root(root: str, path: str) -> str:
    """Text of ``path`` inside ``root`` (empty when missing)."""
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = open_in_root(rfd, path, os.O_RDONLY)
    except OSError:
        return ""
    finally:
        os.close(rfd)
    with os.fdopen(fd, encoding="utf-8", errors="replace") as f:
        return f.read()


def exists_in_root(root: str, path: str) -> str:
    """'dir', 'file' or '' for ``path`` inside ``root``."""
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = open_in_root(rfd, path)
    except OSError:
        return ""
    finally:
        os.close(rfd)
    try:
        return "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
    finally:
        os.close(fd)


def resolve_chown(root: str, spec: str) -> tuple[int, int]:
    """``user[:group]`` (names or ids) to ids using the view's /etc/passwd and /etc/group."""
    user, _, group = spec.partition(":")
    uid = gid = None
    if user.isdigit():
        uid = int(user)
    else:
        match = [u for u in parse_passwd(read_in_root(root, "/etc/passwd")) if u[0] == user]
        if not match:
            raise CopyError(f"unable to find user {user}: no matching entries in passwd file")
        uid, gid = match[0][1], match[0][2]
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            gmatch = [g for g in parse_group(read_in_root(root, "/etc/group")) if g[0] == group]
            if not gmatch:
                raise CopyError(f"unable to find group {group}: no matching entries in group file")
            gid = gmatch[0][1]
    return uid, (uid if gid is None else gid)  # a numeric user alone means the same gid, like Docker


class _Writer:
    """Creates entries under a destination root through fds resolved inside it."""

    def __init__(self, root: str, opts: CopyOptions) -> None:
        self.root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.opts = opts

    def close(self) -> None:
        os.close(self.root_fd)

    def _meta(self, name: str, dfd: int, st: os.stat_result, is_link: bool) -> None:
        uid = st.st_uid if self.opts.uid is None else self.opts.uid
        gid = st.st_gid if self.opts.gid is None else self.opts.gid
        os.chown(name, uid, gid, dir_fd=dfd, follow_symlinks=False)
        if not is_link:
            mode = self.opts.chmod if self.opts.chmod is not None else stat.S_IMODE(st.st_mode)
            os.chmod(name, mode, dir_fd=dfd)
        os.utime(name, ns=(st.st_mtime_ns, st.st_mtime_ns), dir_fd=dfd, follow_symlinks=False)

    def mkdir(self, target: str, st: os.stat_result | None) -> None:
        """Make ``target`` a directory (kept if present); owner/mode from ``st`` when given."""
        parent, name = posixpath.split(posixpath.normpath(target))
        pfd = ensure_in_root(self.root_fd, parent, "dir")
        try:
            try:
                fd = open_in_root(self.root_fd, target)
                isdir = stat.S_ISDIR(os.fstat(fd).st_mode)
                os.close(fd)
                if not isdir:
                    raise CopyError(f"cannot copy a directory onto {target}: it is a file")
                created = False
            except FileNotFoundError:
                os.mkdir(name, 0o755, dir_fd=pfd)
                created = True
            if name and st is not None and created:
                self._meta(name, pfd, st, False)
        finally:
            os.close(pfd)

    def file(self, src: str, st: os.stat_result, target: str) -> None:
        """Copy a regular file or symlink ``src`` to ``target``, replacing a non-directory there."""
        parent, name = posixpath.split(posixpath.normpath(target))
        pfd = ensure_in_root(self.root_fd, parent, "dir")
        try:
            try:
                old = os.stat(name, dir_fd=pfd, follow_symlinks=False)
                if stat.S_ISDIR(old.st_mode):
                    raise CopyError(f"cannot overwrite directory {target} with a file")
                os.unlink(name, dir_fd=pfd)
            except FileNotFoundError:
                pass
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), name, dir_fd=pfd)
            else:
                _copy_data(src, name, pfd)
            self._meta(name, pfd, st, stat.S_ISLNK(st.st_mode))
        finally:
            os.close(pfd)


def _copy_data(src: str, name: str, pfd: int) -> None:
    out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=pfd)
    with open(src, "rb") as f, os.fdopen(out, "wb") as o:
        shutil.copyfileobj(f, o, 1 << 20)


def _copy_tree(writer: _Writer, src: str, dest: str, skip) -> None:
    """Copy the contents of directory ``src`` under ``dest``; ``skip(relpath)`` filters entries."""
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        keep = []
        for name in sorted(dirnames):
            rel = posixpath.normpath(posixpath.join(rel_dir, name))
            path = os.path.join(dirpath, name)
            if skip(rel):
                continue
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                writer.file(path, st, posixpath.join(dest, rel))
            else:
                writer.mkdir(posixpath.join(dest, rel), st)
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = posixpath.normpath(posixpath.join(rel_dir, name))
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if skip(rel) or not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                continue
            writer.file(path, st, posixpath.join(dest, rel))


def _is_archive(path: str) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _extract(writer: _Writer, path: str, dest: str) -> None:
    """ADD: unpack a local archive (owners from the tar unless --chown) into ``dest``."""
    tmp = tempfile.mkdtemp(prefix="shoal-add-")
    try:
        root = os.path.join(tmp, "x")
        os.mkdir(root)
        with tarfile.open(path, "r:*") as tf:
            apply_tar(tf, root)
        opts = writer.opts
        if opts.chmod is None and writer.opts.uid == 0 and writer.opts.gid == 0:
            writer.opts = CopyOptions(None, None, None, False)  # keep the tar's owners
        writer.mkdir(dest, None)
        _copy_tree(writer, root, dest, lambda rel: False)
        writer.opts = opts
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def copy_sources(src_root: str, rels: list[str], dest_root: str, dest: str, opts: CopyOptions,
                 skip=lambda rel: False, chown_given: bool = False) -> None:
    """COPY/ADD ``rels`` (relative to ``src_root``) to absolute ``dest`` inside ``dest_root``."""
    writer = _Writer(dest_root, opts)
    src_fd = os.open(src_root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        dest_dir = dest.endswith("/") or len(rels) > 1 or exists_in_root(dest_root, dest) == "dir"
        if len(rels) > 1 and not dest.endswith("/"):
            raise CopyError("when using COPY with more than one source file, "
                            "the destination must be a directory and end with a /")
        for rel in rels:
            _copy_one(writer, src_fd, rel, dest, dest_dir, skip)
    finally:
        os.close(src_fd)
        writer.close()


def _copy_one(writer: _Writer, src_fd: int, rel: str, dest: str, dest_dir: bool, skip) -> None:
    try:
        fd = open_in_root(src_fd, rel or ".")
    except FileNotFoundError:
        raise CopyError(f"{rel or '.'}: not found") from None
    try:
        path = fd_path(fd)
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            writer.mkdir(dest, st if not exists_in_root(fd_path(writer.root_fd), dest) else None)
            _copy_tree(writer, path, dest, lambda sub: skip(posixpath.normpath(posixpath.join(rel, sub))))
        elif writer.opts.extract and _is_archive(path):
            _extract(writer, path, dest)
        else:
            target = posixpath.join(dest, posixpath.basename(rel)) if dest_dir else dest
            writer.file(path, st, target)
    finally:
        os.close(fd)
