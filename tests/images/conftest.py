"""Fixtures for image tests: a temp store, busybox layer tars, a fake registry."""

from __future__ import annotations

import io
import os
import sys
import tarfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from engine.images.store import ImageStore  # noqa: E402
from engine.images.testing import dir_layer, tar_bytes  # noqa: E402
from fakeregistry import FakeRegistry  # noqa: E402


def file_entry(name: str, data: bytes = b"", mode: int = 0o644, **kw) -> tuple[tarfile.TarInfo, bytes]:
    """A regular-file tar member."""
    info = tarfile.TarInfo(name)
    info.mode = mode
    for k, v in kw.items():
        setattr(info, k, v)
    return info, data


def special(name: str, kind: bytes, linkname: str = "", mode: int = 0o755, **kw) -> tarfile.TarInfo:
    """A non-file tar member (DIRTYPE, SYMTYPE, LNKTYPE, CHRTYPE...)."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, mode
    for k, v in kw.items():
        setattr(info, k, v)
    return info


@pytest.fixture
def store(tmp_path) -> ImageStore:
    return ImageStore(str(tmp_path / "images"))


@pytest.fixture(scope="session")
def bb_layer(busybox_rootfs) -> bytes:
    """The busybox rootfs as one uncompressed layer tar."""
    return dir_layer(busybox_rootfs)


@pytest.fixture(scope="session")
def app_layers() -> list[bytes]:
    """Two small layers on top of busybox: a file + whiteout, and an opaque dir."""
    one = tar_bytes([special("etc/app", tarfile.DIRTYPE), file_entry("etc/app/a.conf", b"a=1\n"),
                     file_entry("etc/app/b.conf", b"b=1\n"), file_entry("hello.txt", b"hello\n"),
                     file_entry(".wh.linuxrc")])
    two = tar_bytes([special("etc/app", tarfile.DIRTYPE), file_entry("etc/app/.wh..wh..opq"),
                     file_entry("etc/app/c.conf", b"c=1\n"), file_entry("bin/.wh.ps")])
    return [one, two]


@pytest.fixture
def registry():
    with FakeRegistry() as reg:
        yield reg


def tar_of(entries) -> bytes:
    return tar_bytes(entries)


def read_tar_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.getnames()
