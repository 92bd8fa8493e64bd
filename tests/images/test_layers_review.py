"""Second review of layer unpacking: hostile tars that replace an entry after it was recorded,
and decompression bombs that must not be held in memory at once."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import tracemalloc
import zlib

import pytest

from conftest import file_entry, special
from engine.images.layers import DecompressingReader, unpack_layer
from engine.images.testing import tar_bytes


@pytest.fixture
def box(tmp_path):
    """box/outside/victim is a host directory the layer must never touch."""
    victim = tmp_path / "outside" / "victim"
    victim.mkdir(parents=True)
    os.chmod(victim, 0o700)
    os.utime(victim, (1000, 1000))
    return tmp_path


def _unpack(box, entries) -> None:
    blob = box / "blob"
    blob.write_bytes(tar_bytes(entries))
    unpack_layer(str(blob), "tar", str(box / "layer"))


def _victim_intact(box) -> None:
    st = os.stat(box / "outside" / "victim")
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_mtime == 1000
    assert os.listdir(box / "outside" / "victim") == []


def test_directory_replaced_by_symlink_does_not_chmod_through_it(box):
    victim = str(box / "outside" / "victim")
    _unpack(box, [special("a", tarfile.DIRTYPE, mode=0o6777, mtime=5),
                  special("a", tarfile.SYMTYPE, linkname=victim)])
    _victim_intact(box)
    assert os.readlink(box / "layer" / "a") == victim


def test_nested_directory_under_a_replaced_parent_is_not_reached(box):
    rel = os.path.relpath(box / "outside", box / "layer")  # a relative link out of the layer
    _unpack(box, [special("a", tarfile.DIRTYPE), special("a/victim", tarfile.DIRTYPE, mode=0o777, mtime=5),
                  special("a", tarfile.SYMTYPE, linkname=rel)])
    _victim_intact(box)


def test_directory_metadata_still_applied_when_not_replaced(box):
    _unpack(box, [special("d", tarfile.DIRTYPE, mode=0o751, mtime=12345),
                  file_entry("d/f", b"x", mtime=7)])
    st = os.stat(box / "layer" / "d")
    assert stat.S_IMODE(st.st_mode) == 0o751 and st.st_mtime == 12345


def _gzip_of_zeros(size: int) -> bytes:
    """A gzip'd tar holding one ``size``-byte file of zeros (a ~1000:1 bomb), built in chunks."""
    header = tarfile.TarInfo("zeros")
    header.size = size
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [comp.compress(header.tobuf(tarfile.PAX_FORMAT))]
    block = bytes(1 << 20)
    for _ in range(size >> 20):
        out.append(comp.compress(block))
    out.append(comp.compress(bytes(1024)))  # padding + end-of-archive blocks
    out.append(comp.flush())
    return b"".join(out)


def test_gzip_bomb_is_decompressed_in_bounded_memory():
    blob = _gzip_of_zeros(256 << 20)
    assert len(blob) < (1 << 20)  # the whole bomb arrives as one read of the raw stream
    reader = DecompressingReader(io.BytesIO(blob), "gzip")
    tracemalloc.start()
    try:
        buf = bytearray(1 << 16)
        total = 0
        while n := reader.readinto(buf):
            total += n
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 512 + (256 << 20) + 1024
    assert peak < 32 << 20, f"peak {peak >> 20} MiB while decompressing"


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_huge_metadata_header_is_refused_without_reading_it_into_memory(tmp_path, kind):
    from engine.images.errors import LayerError

    header = tarfile.TarInfo("meta")
    header.type, header.size = kind, 256 << 20  # a 256 MiB "file name" / PAX record block
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [comp.compress(header.tobuf(tarfile.GNU_FORMAT))]
    block = bytes(1 << 20)
    for _ in range(256):
        out.append(comp.compress(block))
    out.append(comp.compress(tar_bytes([file_entry("f", b"x")])))
    out.append(comp.flush())
    blob = tmp_path / "blob"
    blob.write_bytes(b"".join(out))
    tracemalloc.start()
    try:
        with pytest.raises(LayerError, match="header"):
            unpack_layer(str(blob), "gzip", str(tmp_path / "layer"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"peak {peak >> 20} MiB"


def test_unpacked_layers_are_not_reachable_by_other_host_users(tmp_path):
    """A hostile layer's setuid binary or device node must not be usable by another host user."""
    import stat as _stat

    from engine.images.store import ImageStore

    root = tmp_path / "images"
    (root / "layers").mkdir(parents=True)
    (root / "layers").chmod(0o755)  # a store made by an older shoal
    store = ImageStore(str(root))
    for d in (store.layers, store.tmp):
        assert _stat.S_IMODE(os.stat(d).st_mode) & 0o077 == 0
