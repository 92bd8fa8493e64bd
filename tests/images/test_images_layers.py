"""Layer unpacking: one test per hostile-tar attack, whiteouts in overlay form, flattening."""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import tarfile

import pytest

from conftest import file_entry, special
from engine.images.errors import DigestMismatch, LayerError
from engine.images.layers import flatten, is_opaque, is_whiteout, unpack_layer
from engine.images.oci import sha256_digest
from engine.images.testing import tar_bytes


@pytest.fixture
def box(tmp_path):
    """A sandbox: the layer goes to box/layer; box/outside must stay untouched."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "victim").write_text("original")
    return tmp_path


def unpack(box, entries, compression="tar", diff_id=None):
    data = tar_bytes(entries)
    blob = box / "blob"
    blob.write_bytes(gzip.compress(data) if compression == "gzip" else data)
    return unpack_layer(str(blob), compression, str(box / "layer"), diff_id)


def assert_outside_untouched(box):
    assert sorted(os.listdir(box / "outside")) == ["victim"]
    assert (box / "outside" / "victim").read_text() == "original"


def test_dotdot_entry_is_rejected(box):
    with pytest.raises(LayerError, match=r"'\.\./outside/victim' escapes"):
        unpack(box, [file_entry("../outside/victim", b"pwned")])
    assert_outside_untouched(box)


def test_nested_dotdot_entry_is_rejected(box):
    with pytest.raises(LayerError, match="escapes"):
        unpack(box, [special("a", tarfile.DIRTYPE), file_entry("a/../../outside/new", b"x")])
    assert_outside_untouched(box)


def test_absolute_path_is_made_relative(box):
    unpack(box, [file_entry(str(box / "outside" / "victim"), b"pwned")])
    assert_outside_untouched(box)
    inside = box / "layer" / str(box / "outside" / "victim").lstrip("/")
    assert inside.read_text() == "pwned"


def test_write_through_absolute_symlink_is_rejected(box):
    with pytest.raises(LayerError, match="goes through the symlink 'evil'"):
        unpack(box, [special("evil", tarfile.SYMTYPE, str(box / "outside")),
                     file_entry("evil/victim", b"pwned")])
    assert_outside_untouched(box)
    assert os.readlink(box / "layer" / "evil") == str(box / "outside")  # kept as a plain symlink


def test_write_through_relative_symlink_is_rejected(box):
    with pytest.raises(LayerError, match="symlink"):
        unpack(box, [special("up", tarfile.SYMTYPE, "../outside"), file_entry("up/new", b"x")])
    assert_outside_untouched(box)


def test_symlink_replaced_by_dir_entry_is_rejected(box):
    with pytest.raises(LayerError, match="symlink"):
        unpack(box, [special("d", tarfile.SYMTYPE, "../outside"), special("d/sub", tarfile.DIRTYPE)])
    assert_outside_untouched(box)


def test_hardlink_outside_with_dotdot_is_rejected(box):
    with pytest.raises(LayerError, match="escapes"):
        unpack(box, [special("h", tarfile.LNKTYPE, "../outside/victim")])
    assert_outside_untouched(box)
    assert os.stat(box / "outside" / "victim").st_nlink == 1


def test_hardlink_to_absolute_host_file_is_rejected(box):
    with pytest.raises(LayerError, match="does not exist|not a file of this layer"):
        unpack(box, [special("h", tarfile.LNKTYPE, str(box / "outside" / "victim"))])
    assert os.stat(box / "outside" / "victim").st_nlink == 1


def test_hardlink_through_symlink_is_rejected(box):
    with pytest.raises(LayerError, match="symlink"):
        unpack(box, [special("s", tarfile.SYMTYPE, str(box / "outside")),
                     special("h", tarfile.LNKTYPE, "s/victim")])
    assert os.stat(box / "outside" / "victim").st_nlink == 1


def test_hardlink_within_layer_is_kept(box):
    unpack(box, [file_entry("a", b"data"), special("b", tarfile.LNKTYPE, "a")])
    assert os.stat(box / "layer" / "a").st_ino == os.stat(box / "layer" / "b").st_ino


def test_device_nodes_skipped_unless_allowed(box):
    data = tar_bytes([special("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0, mode=0o660)])
    (box / "blob").write_bytes(data)
    unpack_layer(str(box / "blob"), "tar", str(box / "layer"), allow_devices=False)
    assert not os.path.lexists(box / "layer" / "dev" / "sda")
    if os.geteuid() == 0:
        unpack_layer(str(box / "blob"), "tar", str(box / "layer2"), allow_devices=True)
        assert stat.S_ISBLK(os.lstat(box / "layer2" / "dev" / "sda").st_mode)


def test_overlay_xattrs_from_tar_are_dropped(box):
    info, data = file_entry("d/f", b"x")
    d = special("d", tarfile.DIRTYPE)
    d.pax_headers = {"SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.user.overlay.opaque": "y"}
    unpack(box, [d, (info, data)])
    assert not is_opaque(str(box / "layer" / "d"))


def test_whiteouts_become_overlay_whiteouts(box):
    unpack(box, [special("etc", tarfile.DIRTYPE), file_entry("etc/.wh.passwd"),
                 special("app", tarfile.DIRTYPE), file_entry("app/.wh..wh..opq"), file_entry("app/new", b"n")])
    assert is_whiteout(os.lstat(box / "layer" / "etc" / "passwd"))
    assert is_opaque(str(box / "layer" / "app"))
    assert (box / "layer" / "app" / "new").read_text() == "n"
    assert not any(n.startswith(".wh.") for _, _, fs in os.walk(box / "layer") for n in fs)


def test_odd_whiteouts_are_neutralised(box):
    unpack(box, [file_entry(".wh.."), file_entry(".wh."), file_entry(".wh..wh.plnk"),
                 special(".wh.dir", tarfile.DIRTYPE), file_entry("keep", b"k"), file_entry(".wh.keep")])
    names = sorted(os.listdir(box / "layer"))
    assert names == ["dir", "keep"]
    assert is_whiteout(os.lstat(box / "layer" / "dir"))
    assert (box / "layer" / "keep").read_text() == "k"  # this layer's own file wins over its whiteout


def test_whiteout_under_symlink_is_rejected(box):
    with pytest.raises(LayerError, match="symlink"):
        unpack(box, [special("s", tarfile.SYMTYPE, str(box / "outside")), file_entry("s/.wh.victim")])
    assert_outside_untouched(box)


def test_modes_setuid_and_owners(box):
    unpack(box, [file_entry("bin/su", b"x", mode=0o4755, uid=0, gid=0),
                 file_entry("home/f", b"y", mode=0o600, uid=1000, gid=1000),
                 special("tmp", tarfile.DIRTYPE, mode=0o1777)])
    assert stat.S_IMODE(os.stat(box / "layer" / "bin/su").st_mode) == 0o4755
    assert stat.S_IMODE(os.stat(box / "layer" / "tmp").st_mode) == 0o1777
    if os.geteuid() == 0:
        assert os.stat(box / "layer" / "home/f").st_uid == 1000


def test_later_entry_replaces_earlier(box):
    unpack(box, [special("x", tarfile.DIRTYPE), file_entry("x/in", b"i"), file_entry("x", b"file")])
    assert (box / "layer" / "x").read_text() == "file"


def test_diff_id_mismatch_and_truncation(box):
    entries = [file_entry("a", b"a" * 5000)]
    good = sha256_digest(tar_bytes(entries))
    assert unpack(box, entries, "gzip", good) == good
    with pytest.raises(DigestMismatch, match="diff_id mismatch"):
        unpack(box.joinpath("other").mkdir() or box / "other", entries, "gzip", "sha256:" + "1" * 64)
    (box / "cut").write_bytes(gzip.compress(tar_bytes([file_entry("r", os.urandom(20000))]))[:9000])
    with pytest.raises((DigestMismatch, LayerError)):
        unpack_layer(str(box / "cut"), "gzip", str(box / "cutlayer"))


def test_flatten_applies_whiteouts_and_opaque(tmp_path):
    layers = []
    specs = [
        [special("etc", tarfile.DIRTYPE), file_entry("etc/a", b"a"), file_entry("etc/b", b"b"),
         special("app", tarfile.DIRTYPE), file_entry("app/old", b"o"), special("link", tarfile.SYMTYPE, "/etc")],
        [file_entry("etc/.wh.a"), special("app", tarfile.DIRTYPE), file_entry("app/.wh..wh..opq"),
         file_entry("app/new", b"n"), special("link", tarfile.DIRTYPE), file_entry("link/f", b"f")],
    ]
    for i, entries in enumerate(specs):
        (tmp_path / f"b{i}").write_bytes(tar_bytes(entries))
        unpack_layer(str(tmp_path / f"b{i}"), "tar", str(tmp_path / f"l{i}"))
        layers.insert(0, str(tmp_path / f"l{i}"))
    flat = flatten(layers, str(tmp_path / "flat"))
    assert sorted(os.listdir(os.path.join(flat, "etc"))) == ["b"]
    assert sorted(os.listdir(os.path.join(flat, "app"))) == ["new"]
    assert os.path.isdir(os.path.join(flat, "link")) and not os.path.islink(os.path.join(flat, "link"))
    assert open(os.path.join(flat, "link", "f")).read() == "f"


@pytest.mark.root
def test_overlay_mount_matches_flattened_view(tmp_path, bb_layer, app_layers):
    """The per-layer dirs stacked by overlayfs show the same tree as the flattened copy."""
    from treecompare import tree
    layers = []
    for i, data in enumerate([bb_layer, *app_layers]):
        (tmp_path / f"b{i}").write_bytes(data)
        unpack_layer(str(tmp_path / f"b{i}"), "tar", str(tmp_path / f"l{i}"))
        layers.insert(0, f"l{i}")
    merged = tmp_path / "merged"
    merged.mkdir()
    proc = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", "lowerdir=" + ":".join(layers),
                           str(merged)], cwd=tmp_path, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"overlay mount unavailable: {proc.stderr.strip()}")
    try:
        view = tree(str(merged))
    finally:
        subprocess.run(["umount", str(merged)], check=True)
    flat = flatten([str(tmp_path / name) for name in layers], str(tmp_path / "flat"))
    assert view == tree(flat)
    assert "linuxrc" not in view and "bin/ps" not in view and "etc/app/a.conf" not in view
    assert "etc/app/c.conf" in view
