"""Reference parsing, the store API the runtime uses, archives, import, CLI and disk-full safety."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile

import pytest

from conftest import file_entry
from engine.images.archive import import_rootfs, load, save
from engine.images.errors import ImageError, ImageInUse, ImageNotFound, InvalidReference, PullError
from engine.images.pull import pull
from engine.images.reference import parse
from engine.images.store import ImageStore
from engine.images.testing import build_image, tar_bytes, write_layout

D = "sha256:" + "a" * 64


@pytest.mark.parametrize("ref,expected", [
    ("redis", "docker.io/library/redis:latest"),
    ("redis:7", "docker.io/library/redis:7"),
    ("myhost/app", "docker.io/myhost/app:latest"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("localhost/app:1", "localhost/app:1"),
    ("ghcr.io/o/r/x:v1.2", "ghcr.io/o/r/x:v1.2"),
    (f"host:5000/a/b@{D}", f"host:5000/a/b@{D}"),
    (f"redis:7@{D}", f"docker.io/library/redis:7@{D}"),
    ("index.docker.io/library/redis", "docker.io/library/redis:latest"),
])
def test_reference_normalization(ref, expected):
    assert str(parse(ref)) == expected


@pytest.mark.parametrize("bad", ["", "Redis", "redis:", "a@sha256:123", "x/../y", "redis:tag with space"])
def test_invalid_references(bad):
    with pytest.raises(InvalidReference, match="invalid reference format"):
        parse(bad)


def test_lookup_tag_remove_prune(store, bb_layer):
    bb = tar_bytes([file_entry("f", b"1")])
    img = import_rootfs_bytes(store, bb, "app:1")
    assert store.lookup("app:1").id == img.id == store.lookup("docker.io/library/app:1").id
    with pytest.raises(ImageNotFound, match="'app:2' not found"):
        store.lookup("app:2")
    store.tag("app:1", "reg.local/app:2")
    assert sorted(store.lookup(img.id).names) == ["docker.io/library/app:1", "reg.local/app:2"]
    with pytest.raises(ImageInUse, match="referenced by 2 names"):
        store.remove(img.id)
    assert store.remove("app:1") == ["Untagged: docker.io/library/app:1"]
    assert store.lookup(img.id[7:19]).names == ["reg.local/app:2"]
    other = import_rootfs_bytes(store, tar_bytes([file_entry("g", b"2")]), "other:1")
    assert store.prune({"reg.local/app:2"}) == [other.id]
    assert [i.id for i in store.list()] == [img.id]
    assert len(os.listdir(store.blobs)) == 3 and len(os.listdir(store.layers)) == 2
    store.remove(img.id)
    assert store.list() == [] and os.listdir(store.blobs) == [] and os.listdir(store.layers) == ["l"]


def import_rootfs_bytes(store, data, ref):
    path = os.path.join(store.tmp, "..", f"src-{ref.replace(':', '_')}.tar")
    with open(path, "wb") as f:
        f.write(data)
    return import_rootfs(store, path, ref)


def test_store_is_an_oci_layout_umoci_reads(store, tmp_path):
    img = import_rootfs_bytes(store, tar_bytes([file_entry("etc/x", b"x")]), "app:1")
    doc = json.load(open(store.index_path))
    assert doc["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "docker.io/library/app:1"
    assert json.load(open(os.path.join(store.root, "oci-layout"))) == {"imageLayoutVersion": "1.0.0"}
    if subprocess.run(["which", "umoci"], capture_output=True).returncode == 0:
        out = subprocess.run(["umoci", "ls", "--layout", store.root], capture_output=True, text=True)
        assert out.stdout.split() == ["docker.io/library/app:1"]
    assert img.created and img.size > 0


def test_import_directory_tarball_and_gzip(store, busybox_rootfs, tmp_path):
    from treecompare import tree
    a = import_rootfs(store, busybox_rootfs, "bb:dir")
    assert os.path.isfile(os.path.join(a.layer_dirs[0], "bin", "busybox"))
    assert tree(store.flatten(a, str(tmp_path / "flat"))) == tree(busybox_rootfs)
    tgz = tmp_path / "rootfs.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(busybox_rootfs, ".")
    b = import_rootfs(store, str(tgz), "bb:tgz")
    assert os.path.islink(os.path.join(b.layer_dirs[0], "bin", "sh"))
    assert b.config["rootfs"]["diff_ids"][0] == b.manifest["layers"][0]["digest"]


def test_save_load_roundtrip_docker_and_oci(store, tmp_path, bb_layer):
    img = import_rootfs_bytes(store, bb_layer, "bb:1")
    for fmt in ("docker", "oci"):
        out = tmp_path / f"{fmt}.tar"
        save(store, ["bb:1"], str(out), fmt=fmt)
        other = ImageStore(str(tmp_path / f"store-{fmt}"))
        loaded = load(other, str(out))
        assert [(i.id, i.names) for i in loaded] == [(img.id, ["docker.io/library/bb:1"])]
        names = tarfile.open(out).getnames()
        assert ("manifest.json" in names) == (fmt == "docker") and "index.json" in names


def test_load_old_docker_save_archive(store, tmp_path):
    layer = tar_bytes([file_entry("hello", b"hi")])
    image = build_image([layer], compression="tar")
    cfg = image.blobs[image.id]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in [(f"{image.id[7:]}.json", cfg), ("abc123/layer.tar", layer),
                           ("abc123/VERSION", b"1.0"),
                           ("manifest.json", json.dumps([{"Config": f"{image.id[7:]}.json",
                                                          "RepoTags": ["bb:local"],
                                                          "Layers": ["abc123/layer.tar"]}]).encode()),
                           ("repositories", b'{"bb":{"local":"abc123"}}')]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    buf.seek(0)
    [img] = load(store, buf)
    assert img.names == ["docker.io/library/bb:local"] and img.id == image.id
    assert open(os.path.join(img.layer_dirs[0], "hello")).read() == "hi"


def test_load_oci_archive_with_tampered_blob_fails(store, tmp_path):
    image = build_image([tar_bytes([file_entry("x", b"x")])])
    layout = write_layout(str(tmp_path / "layout"), {"bb:1": image})
    layer = json.loads(image.manifest)["layers"][0]["digest"]
    with open(os.path.join(layout, "blobs", "sha256", layer[7:]), "ab") as f:
        f.write(b"junk")
    out = tmp_path / "a.tar"
    with tarfile.open(out, "w") as tf:
        tf.add(layout, ".")
    with pytest.raises(ImageError, match="digest mismatch"):
        load(store, str(out))
    assert store.list() == []


def test_cli_import_images_inspect_save_load(tmp_path, monkeypatch, capsys, busybox_rootfs):
    from orchestrator.cli.main import main
    monkeypatch.setenv("SHOAL_ROOT", str(tmp_path / "root"))
    assert main(["image", "import", busybox_rootfs, "bb:cli"]) == 0
    assert main(["images"]) == 0
    assert "bb   " in capsys.readouterr().out.replace("bb" + " " * 38, "bb   ")
    assert main(["image", "inspect", "bb:cli"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["RepoTags"] == ["bb:cli"]
    assert main(["image", "save", "bb:cli", "-o", str(tmp_path / "s.tar")]) == 0
    assert main(["image", "rm", "bb:cli"]) == 0
    assert main(["image", "load", "-i", str(tmp_path / "s.tar")]) == 0
    assert "Loaded image: bb:cli" in capsys.readouterr().out
    assert main(["image", "rm", "nothere:1"]) == 1
    assert capsys.readouterr().err.strip() == "image 'nothere:1' not found in the local store (pull it first)"


def test_cli_login_logout(tmp_path, monkeypatch, capsys, registry):
    from orchestrator.cli.main import main
    monkeypatch.setenv("SHOAL_ROOT", str(tmp_path / "root"))
    assert main(["login", registry.host, "-u", "alice", "-p", "s3cret"]) == 0
    assert oct(os.stat(tmp_path / "root/images/auth.json").st_mode & 0o777) == "0o600"
    assert main(["logout", registry.host]) == 0
    assert "Removing login credentials" in capsys.readouterr().out


@pytest.mark.root
def test_disk_full_during_unpack_leaves_no_image(tmp_path, registry):
    """A pull into a 3 MB tmpfs fails cleanly: no registered image, no half-unpacked layer."""
    big = build_image([tar_bytes([file_entry("big", os.urandom(2_500_000))])])
    registry.push("big", "1", big)
    root = tmp_path / "small"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(root)], check=True)
    try:
        store = ImageStore(str(root / "images"))
        with pytest.raises(PullError, match=r"big:1: .*(No space left|space)"):
            pull(store, f"{registry.host}/big:1")
        assert store.list() == []
        assert sorted(os.listdir(store.layers)) == ["l"]
        assert json.load(open(store.index_path))["manifests"] == []
    finally:
        subprocess.run(["umount", str(root)], check=True)
