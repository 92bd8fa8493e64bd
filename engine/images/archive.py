"""Load and save image archives (docker save, old and OCI style; oci-archive) and import rootfs.

``load`` reads ``index.json`` when the tar has one (OCI layout, Docker >= 25,
skopeo oci-archive) and the old ``manifest.json`` otherwise. Every blob is
verified against its digest while it is copied into the store, and an image is
registered only once all its layers are unpacked.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
from typing import IO, Any, BinaryIO

from . import oci
from .errors import DigestMismatch, ImageError
from .layers import DecompressingReader, is_opaque, is_whiteout
from .platform import Platform, host_platform, parse_platform, select_manifest
from .reference import parse as parse_ref
from .store import Image, ImageStore

__all__ = ["tar_directory", "load", "save", "import_rootfs", "sniff_compression"]

_CHUNK = 1 << 20


def sniff_compression(head: bytes) -> str:
    """'gzip', 'zstd' or 'tar' from a blob's first bytes."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    return "tar"


def _tarinfo(tf: tarfile.TarFile, path: str, arcname: str) -> tarfile.TarInfo:
    info = tf.gettarinfo(path, arcname)
    info.uname = info.gname = ""
    if not info.issym():
        for attr in os.listxattr(path, follow_symlinks=False):
            if ".overlay." not in attr:
                value = os.getxattr(path, attr, follow_symlinks=False)
                info.pax_headers["SCHILY.xattr." + attr] = value.decode("utf-8", "surrogateescape")
    return info


def tar_directory(root: str, out: BinaryIO) -> None:
    """Write ``root`` as a layer tar (sorted, numeric owners, xattrs; overlay whiteouts converted)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            prefix = "" if rel == "." else rel + "/"
            if prefix:
                tf.addfile(_tarinfo(tf, dirpath, prefix.rstrip("/")))
            if is_opaque(dirpath):
                tf.addfile(tarfile.TarInfo(prefix + ".wh..wh..opq"))
            for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                if is_whiteout(st):
                    tf.addfile(tarfile.TarInfo(prefix + ".wh." + name))
                    continue
                info = _tarinfo(tf, path, prefix + name)
                if info.isreg():
                    with open(path, "rb") as f:
                        tf.addfile(info, f)
                else:
                    tf.addfile(info)


def _member_map(tf: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    return {os.path.normpath(m.name).lstrip("/"): m for m in tf.getmembers()}


class _Loader:
    """Copies blobs from an archive into a store, verifying digests."""

    def __init__(self, store: ImageStore, tf: tarfile.TarFile, platform: Platform) -> None:
        self.store, self.tf, self.platform = store, tf, platform
        self.members = _member_map(tf)

    def open(self, path: str) -> IO[bytes]:
        member = self.members.get(os.path.normpath(path).lstrip("/"))
        f = self.tf.extractfile(member) if member is not None else None
        if f is None:
            raise ImageError(f"archive is missing {path}")
        return f

    def read(self, path: str) -> bytes:
        return self.open(path).read()

    def blob(self, path: str, digest: str | None = None) -> str:
        """Copy one file into the blob store, checking ``digest`` if given; returns the digest."""
        h = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self.store.tmp, suffix=".load")
        try:
            with os.fdopen(fd, "wb") as out, self.open(path) as src:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
                    h.update(chunk)
            actual = "sha256:" + h.hexdigest()
            if digest and actual != digest:
                raise DigestMismatch(f"{path}: digest mismatch (expected {digest}, got {actual})")
            self.store.add_blob_file(tmp, actual)
            return actual
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def finish(self, manifest: dict[str, Any], names: list[str]) -> Image:
        """Write the manifest, unpack its layers and register it under ``names``."""
        digest = self.store.write_blob(json.dumps(manifest, indent=1).encode())
        config = json.loads(self.store.read_blob(manifest["config"]["digest"]))
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        if len(diff_ids) != len(manifest["layers"]):
            raise ImageError("config diff_ids do not match the layers")
        for desc, diff_id, chain in zip(manifest["layers"], diff_ids, oci.chain_ids(diff_ids)):
            self.store.ensure_layer(desc["digest"], desc["mediaType"], diff_id, chain)
        return self.store.register(digest, names)

    def oci_manifest(self, digest: str, names: list[str]) -> Image:
        data = self.read(f"blobs/sha256/{oci.digest_hex(digest)}")
        oci.check_digest(data, digest, f"manifest {digest[:19]}")
        media, doc = oci.parse_manifest(data)
        if media in oci.INDEX_TYPES:
            return self.oci_manifest(select_manifest(doc, self.platform)["digest"], names)
        for desc in doc["layers"]:
            oci.layer_compression(desc["mediaType"])  # refuse unknown layer types before copying
        for desc in [doc["config"], *doc["layers"]]:
            self.blob(f"blobs/sha256/{oci.digest_hex(desc['digest'])}", desc["digest"])
        self.store.write_blob(data)
        return self.finish(doc, names)

    def load_oci(self) -> list[Image]:
        index = json.loads(self.read("index.json"))
        images = []
        for entry in index.get("manifests", []):
            ann = entry.get("annotations") or {}
            name = ann.get(oci.IMAGE_NAME) or ann.get(oci.REF_NAME, "")
            names = [name] if name and (":" in name or "/" in name) else []
            images.append(self.oci_manifest(entry["digest"], names))
        return images

    def load_docker(self) -> list[Image]:
        images = []
        for entry in json.loads(self.read("manifest.json")):
            config_digest = self.blob(entry["Config"])
            config_data = self.store.read_blob(config_digest)
            layers = []
            for path in entry.get("Layers", []):
                with self.open(path) as f:
                    kind = sniff_compression(f.read(4))
                media = {"gzip": oci.OCI_LAYER_GZIP, "zstd": oci.OCI_LAYER_ZSTD, "tar": oci.OCI_LAYER}[kind]
                digest = self.blob(path)
                layers.append({"mediaType": media, "digest": digest,
                               "size": os.path.getsize(self.store.blob_path(digest))})
            manifest = {"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST,
                        "config": {"mediaType": oci.OCI_CONFIG, "digest": config_digest,
                                   "size": len(config_data)}, "layers": layers}
            images.append(self.finish(manifest, list(entry.get("RepoTags") or [])))
        return images


def load(store: ImageStore, source: str | BinaryIO, platform: str | None = None) -> list[Image]:
    """Load a docker-save tar (old or OCI style) or an oci-archive; returns the loaded images."""
    opened = tarfile.open(source, "r:*") if isinstance(source, str) else tarfile.open(fileobj=source, mode="r:*")
    with opened as tf, store.ingesting():
        loader = _Loader(store, tf, parse_platform(platform))
        if "index.json" in loader.members:
            return loader.load_oci()
        if "manifest.json" in loader.members:
            return loader.load_docker()
        raise ImageError("not an image archive: it has neither index.json nor manifest.json")


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tf.addfile(info, io.BytesIO(data))


def save(store: ImageStore, refs: list[str], dest: str | BinaryIO, fmt: str = "docker") -> None:
    """Write images as an OCI layout tar; 'docker' adds manifest.json and repositories too."""
    images = [(ref, store.lookup(ref)) for ref in refs]
    blobs: dict[str, None] = {}
    entries, legacy, repos = [], [], {}
    for ref, image in images:
        names = [n for n in image.names if parse_ref(n).name == parse_ref(ref).name] or image.names[:1]
        for digest in [image.digest, image.id, *(d["digest"] for d in image.manifest["layers"])]:
            blobs[digest] = None
        for name in names or [""]:
            ann = {oci.IMAGE_NAME: name, oci.REF_NAME: name} if name else {}
            entries.append({"mediaType": oci.OCI_MANIFEST, "digest": image.digest,
                            "size": os.path.getsize(store.blob_path(image.digest)), "annotations": ann})
        legacy.append({"Config": f"blobs/sha256/{oci.digest_hex(image.id)}",
                       "RepoTags": [parse_ref(n).familiar() for n in names],
                       "Layers": [f"blobs/sha256/{oci.digest_hex(d['digest'])}" for d in image.manifest["layers"]]})
        for n in names:
            r = parse_ref(n)
            repos.setdefault(r.with_tag("").familiar(), {})[r.tag] = oci.digest_hex(image.id)
    out = tarfile.open(dest, "w") if isinstance(dest, str) else tarfile.open(fileobj=dest, mode="w|")
    with out as tf:
        _add_bytes(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        for digest in blobs:
            tf.add(store.blob_path(digest), f"blobs/sha256/{oci.digest_hex(digest)}")
        _add_bytes(tf, "index.json", json.dumps({"schemaVersion": 2, "mediaType": oci.OCI_INDEX,
                                                 "manifests": entries}).encode())
        if fmt == "docker":
            _add_bytes(tf, "manifest.json", json.dumps(legacy).encode())
            _add_bytes(tf, "repositories", json.dumps(repos).encode())


def _layer_from_source(store: ImageStore, source: str) -> str:
    """Store ``source`` (directory or tar, possibly compressed) as an uncompressed layer blob."""
    fd, tmp = tempfile.mkstemp(dir=store.tmp, suffix=".import")
    try:
        with os.fdopen(fd, "wb") as out:
            if os.path.isdir(source):
                tar_directory(source, out)
            else:
                with open(source, "rb") as raw:
                    kind = sniff_compression(raw.read(4))
                    raw.seek(0)
                    reader = DecompressingReader(raw, kind)
                    while chunk := reader.read(_CHUNK):
                        out.write(chunk)
        h = hashlib.sha256()
        with open(tmp, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        digest = "sha256:" + h.hexdigest()
        store.add_blob_file(tmp, digest)
        return digest
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def import_rootfs(store: ImageStore, source: str, ref: str | None = None,
                  changes: dict[str, Any] | None = None, platform: str | None = None) -> Image:
    """Make a one-layer image from a rootfs directory or tarball, named ``ref`` if given."""
    if not os.path.exists(source) or not (os.path.isdir(source) or stat.S_ISREG(os.stat(source).st_mode)):
        raise ImageError(f"import: {source} is not a directory or a tar file")
    plat = parse_platform(platform) if platform else host_platform()
    with store.ingesting():
        diff_id = _layer_from_source(store, source)
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        config = {"architecture": plat.architecture, "os": plat.os, "created": now,
                  "config": dict(changes or {}), "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                  "history": [{"created": now, "created_by": f"shoal import {os.path.basename(source)}"}]}
        config_data = oci.canonical_json(config)
        config_digest = store.write_blob(config_data)
        manifest = {"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST,
                    "config": {"mediaType": oci.OCI_CONFIG, "digest": config_digest, "size": len(config_data)},
                    "layers": [{"mediaType": oci.OCI_LAYER, "digest": diff_id,
                                "size": os.path.getsize(store.blob_path(diff_id))}]}
        store.ensure_layer(diff_id, oci.OCI_LAYER, diff_id, diff_id)
        digest = store.write_blob(json.dumps(manifest, indent=1).encode())
        return store.register(digest, [ref] if ref else [])
