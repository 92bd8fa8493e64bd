"""Unpack layer tars safely into per-layer directories in overlayfs form, and flatten them.

A layer is applied into an empty directory of its own. Every path is resolved
inside that directory by walking it with lstat: a ``..`` component is refused,
absolute names are made relative, and a path that goes through a symlink is
refused, so nothing is ever written outside the layer. Whiteouts become
overlayfs whiteouts (char device 0/0) and opaque directories get the
``trusted.overlay.opaque`` xattr (``user.overlay.opaque`` when not root).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tarfile
import zlib
from typing import BinaryIO, Callable

from .errors import DigestMismatch, LayerError

__all__ = ["DecompressingReader", "unpack_layer", "apply_tar", "flatten", "OPAQUE_XATTRS",
           "is_whiteout", "is_opaque", "zstd_available"]

OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
_WH = ".wh."
_OPQ = ".wh..wh..opq"
_CHUNK = 1 << 20


def zstd_available() -> bool:
    """True when the optional ``zstandard`` module can decompress zstd layers."""
    try:
        import zstandard  # noqa: F401
    except ImportError:
        return False
    return True


class DecompressingReader(io.RawIOBase):
    """Reads a layer blob decompressed (tar, gzip, zstd), hashing the output for the diff_id."""

    def __init__(self, raw: BinaryIO, compression: str) -> None:
        self.raw, self.compression = raw, compression
        self.hash = hashlib.sha256()
        self.size = 0
        self._buf = memoryview(b"")
        self._gz = zlib.decompressobj(16 + zlib.MAX_WBITS) if compression == "gzip" else None
        self._zs = None
        if compression == "zstd":
            try:
                import zstandard
            except ImportError:
                raise LayerError("zstd-compressed layer needs the 'zstandard' module "
                                 "(pip install zstandard)") from None
            self._zs = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        elif compression not in ("gzip", "tar"):
            raise LayerError(f"unknown layer compression {compression!r}")

    def readable(self) -> bool:
        return True

    def _fill_gzip(self) -> None:
        """Decompress until some output is buffered; handles multi-member gzip and zero padding."""
        assert self._gz is not None
        while not self._buf:
            if self._gz.eof:
                chunk = self._gz.unused_data or self.raw.read(_CHUNK)
                if not chunk.strip(b"\0"):
                    return  # clean end (possibly zero padding)
                self._gz = zlib.decompressobj(16 + zlib.MAX_WBITS)
            elif self._gz.unconsumed_tail:
                chunk = self._gz.unconsumed_tail
            else:
                chunk = self.raw.read(_CHUNK)
                if not chunk:
                    raise DigestMismatch("truncated gzip stream in layer")
            try:  # bounded output: 1 MiB of a gzip bomb must not inflate to 1 GiB in memory
                self._buf = memoryview(self._gz.decompress(chunk, _CHUNK))
            except zlib.error as exc:
                raise LayerError(f"corrupt gzip layer: {exc}") from None

    def readinto(self, b) -> int:  # type: ignore[override]
        n = len(b)
        if self.compression == "tar":
            data = self.raw.read(n)
        elif self._zs is not None:
            try:
                data = self._zs.read(n)
            except Exception as exc:  # zstandard.ZstdError
                raise LayerError(f"corrupt zstd layer: {exc}") from None
        else:
            self._fill_gzip()
            data, self._buf = self._buf[:n], self._buf[n:]
        b[:len(data)] = data
        self.hash.update(data)
        self.size += len(data)
        return len(data)

    def drain(self) -> None:
        """Read to the end so that the hash covers the whole uncompressed stream."""
        while self.read(_CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


_MAX_META = 1 << 20  # PAX records or a GNU long name/link: far more than any real layer needs
_META_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
               tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)


class _BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses huge metadata headers, which tarfile would read whole into memory."""

    def _proc_member(self, tf: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _META_TYPES and self.size > _MAX_META:
            raise LayerError(f"layer tar has a {self.size}-byte metadata header (limit {_MAX_META})")
        return super()._proc_member(tf)


def _parts(name: str) -> list[str]:
    """Split a tar name into components: absolute names become relative, '..' is refused."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerError(f"layer entry {name!r} escapes the layer directory ('..')")
    return parts


def _walk(root: str, parts: list[str], name: str, create: bool) -> str:
    """Resolve a directory inside ``root`` without following symlinks, creating it if asked."""
    cur = root
    for comp in parts:
        cur = os.path.join(cur, comp)
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            if not create:
                raise LayerError(f"layer entry {name!r}: {comp!r} does not exist") from None
            os.mkdir(cur, 0o755)
            continue
        if stat.S_ISLNK(st.st_mode):
            raise LayerError(f"layer entry {name!r} goes through the symlink {comp!r}")
        if not stat.S_ISDIR(st.st_mode):
            raise LayerError(f"layer entry {name!r}: {comp!r} is not a directory")
    return cur


def _remove(path: str) -> None:
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _set_opaque(path: str) -> None:
    try:
        os.setxattr(path, OPAQUE_XATTRS[0], b"y", follow_symlinks=False)
    except PermissionError:
        os.setxattr(path, OPAQUE_XATTRS[1], b"y", follow_symlinks=False)


def _xattrs(member: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    """PAX SCHILY.xattr.* headers, minus overlay ones a hostile layer could use to fake opacity."""
    out = []
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            attr = key[len("SCHILY.xattr."):]
            if ".overlay." in attr:
                continue
            out.append((attr, value.encode("utf-8", "surrogateescape")))
    return out


class _Applier:
    """Applies one tar stream into ``root`` (see the module docstring for the rules)."""

    def __init__(self, root: str, allow_devices: bool) -> None:
        self.root = root
        self.is_root = os.geteuid() == 0
        self.allow_devices = allow_devices and self.is_root
        self.dirs: list[tuple[str, tarfile.TarInfo]] = []
        self.skipped: list[str] = []

    def apply(self, tf: tarfile.TarFile) -> None:
        for member in tf:
            self.member(tf, member)
        for path, member in reversed(self.dirs):
            fd = self._reopen_dir(path, member.name)
            if fd is None:
                continue  # replaced by a later entry (maybe a symlink out of the layer): nothing to set
            try:
                self.metadata(path, member, fd)
            finally:
                os.close(fd)

    def _reopen_dir(self, path: str, name: str) -> int | None:
        """An fd of the recorded directory if it is still a real directory reached without symlinks."""
        rel = os.path.relpath(path, self.root)
        try:
            _walk(self.root, [] if rel == "." else rel.split("/"), name, create=False)
            return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (LayerError, OSError):
            return None

    def whiteout(self, parent: str, base: str) -> None:
        if base == _OPQ:
            _set_opaque(parent)
            return
        name = base[len(_WH):]
        if base.startswith(_WH + _WH) or name in ("", ".", ".."):
            return  # AUFS metadata or a whiteout of nothing: neutralised
        target = os.path.join(parent, name)
        if not os.path.lexists(target):
            os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))

    def member(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        parts = _parts(m.name)
        if not parts:
            if m.isdir():
                self.dirs.append((self.root, m))
            return
        parent = _walk(self.root, parts[:-1], m.name, create=True)
        base = parts[-1]
        if base.startswith(_WH):
            self.whiteout(parent, base)
            return
        target = os.path.join(parent, base)
        if os.path.lexists(target):
            if m.isdir() and stat.S_ISDIR(os.lstat(target).st_mode):
                self.dirs.append((target, m))
                return
            _remove(target)
        self.create(tf, m, target)

    def create(self, tf: tarfile.TarFile, m: tarfile.TarInfo, target: str) -> None:
        if m.isreg():
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with open(fd, "wb") as out:
                src = tf.extractfile(m)
                if src is not None:
                    shutil.copyfileobj(src, out, _CHUNK)
                self.metadata(target, m, out.fileno())
        elif m.isdir():
            os.mkdir(target, 0o700)
            self.dirs.append((target, m))
        elif m.issym():
            os.symlink(m.linkname, target)
            self.metadata(target, m, None)
        elif m.islnk():
            lparts = _parts(m.linkname)
            if not lparts:
                raise LayerError(f"hardlink {m.name!r} has an empty target")
            src = os.path.join(_walk(self.root, lparts[:-1], m.name, create=False), lparts[-1])
            if not os.path.lexists(src) or stat.S_ISDIR(os.lstat(src).st_mode):
                raise LayerError(f"hardlink {m.name!r} points to {m.linkname!r}, not a file of this layer")
            os.link(src, target, follow_symlinks=False)
        elif m.isfifo():
            os.mkfifo(target, 0o600)
            self.metadata(target, m, None)
        elif m.ischr() or m.isblk():
            if not self.allow_devices:
                self.skipped.append(m.name)
                return
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            os.mknod(target, kind | 0o600, os.makedev(m.devmajor, m.devminor))
            self.metadata(target, m, None)
        else:
            self.skipped.append(m.name)

    def metadata(self, path: str, m: tarfile.TarInfo, fd: int | None) -> None:
        """Owner, then mode (chown clears setuid), then xattrs, then times."""
        link = m.issym()
        target: int | str = fd if fd is not None else path
        if self.is_root:
            os.chown(target, m.uid, m.gid, follow_symlinks=fd is not None or not link)
        if not link:
            os.chmod(target, m.mode & 0o7777)
            for attr, value in _xattrs(m):
                try:
                    os.setxattr(target, attr, value, follow_symlinks=False) if fd is None \
                        else os.setxattr(fd, attr, value)
                except OSError:
                    self.skipped.append(f"{m.name} xattr {attr}")
        mtime = int(m.mtime * 1_000_000_000)
        if fd is not None:
            os.utime(fd, ns=(mtime, mtime))
        else:
            os.utime(path, ns=(mtime, mtime), follow_symlinks=False)


def apply_tar(tf: tarfile.TarFile, root: str, allow_devices: bool = True) -> list[str]:
    """Apply a tar into the empty directory ``root``; returns entries skipped (devices, xattrs)."""
    applier = _Applier(root, allow_devices)
    try:
        applier.apply(tf)
    except tarfile.TarError as exc:
        raise LayerError(f"malformed layer tar: {exc}") from None
    return applier.skipped


def unpack_layer(blob: str, compression: str, dest: str, diff_id: str | None = None,
                 allow_devices: bool = True) -> str:
    """Unpack blob file ``blob`` into the new directory ``dest``; verify and return its diff_id."""
    os.mkdir(dest, 0o755)
    with open(blob, "rb") as raw:
        reader = DecompressingReader(raw, compression)
        buffered = io.BufferedReader(reader, _CHUNK)
        try:
            with tarfile.open(fileobj=buffered, mode="r|", errorlevel=2, tarinfo=_BoundedTarInfo) as tf:
                apply_tar(tf, dest, allow_devices)
            buffered.read()
        except tarfile.TarError as exc:
            raise LayerError(f"malformed layer tar: {exc}") from None
        reader.drain()
    if diff_id is not None and reader.digest != diff_id:
        raise DigestMismatch(f"layer diff_id mismatch (expected {diff_id}, got {reader.digest})")
    return reader.digest


def is_whiteout(st: os.stat_result) -> bool:
    """True for an overlayfs whiteout (char device 0/0)."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    """True when a layer directory carries an overlay opaque xattr."""
    for attr in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, attr, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _copy_entry(src: str, dst: str, st: os.stat_result, links: dict[tuple[int, int], str]) -> None:
    """Copy one non-directory entry with owner, mode, xattrs and times; keep hardlinks."""
    key = (st.st_dev, st.st_ino)
    if st.st_nlink > 1 and key in links:
        os.link(links[key], dst, follow_symlinks=False)
        return
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(src, dst, follow_symlinks=False)
    elif stat.S_ISFIFO(st.st_mode):
        os.mkfifo(dst, 0o600)
    else:
        os.mknod(dst, (st.st_mode & ~0o7777) | 0o600, st.st_rdev)
    _copy_meta(src, dst, st)
    if st.st_nlink > 1:
        links[key] = dst


def _copy_meta(src: str, dst: str, st: os.stat_result) -> None:
    link = stat.S_ISLNK(st.st_mode)
    if os.geteuid() == 0:
        os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not link:
        os.chmod(dst, stat.S_IMODE(st.st_mode))
        for attr in os.listxattr(src, follow_symlinks=False):
            if ".overlay." not in attr:
                os.setxattr(dst, attr, os.getxattr(src, attr, follow_symlinks=False),
                            follow_symlinks=False)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _merge_dir(src: str, dst: str, links: dict[tuple[int, int], str]) -> None:
    """Merge one layer directory into the flat tree ``dst`` (a real directory we created)."""
    if is_opaque(src):
        for name in os.listdir(dst):
            _remove(os.path.join(dst, name))
    with os.scandir(src) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        s, d = entry.path, os.path.join(dst, entry.name)
        st = entry.stat(follow_symlinks=False)
        exists = os.path.lexists(d)
        if stat.S_ISDIR(st.st_mode):
            if exists and not stat.S_ISDIR(os.lstat(d).st_mode):
                _remove(d)
                exists = False
            if not exists:
                os.mkdir(d, 0o700)
            _merge_dir(s, d, links)
            _copy_meta(s, d, st)
            continue
        if exists:
            _remove(d)
        if not is_whiteout(st):
            _copy_entry(s, d, st, links)


def flatten(layer_dirs: list[str], dest: str,
            progress: Callable[[str], None] | None = None) -> str:
    """Copy overlay-form layers (TOP first, like Image.layer_dirs) into one flat tree at ``dest``."""
    os.makedirs(dest, exist_ok=True)
    for layer in reversed(layer_dirs):
        _merge_dir(layer, dest, {})
        _copy_meta(layer, dest, os.lstat(layer))
        if progress:
            progress(layer)
    return dest
