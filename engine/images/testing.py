"""Build small OCI images in memory for tests and benchmarks (no registry or Docker needed)."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from typing import Iterable

from . import oci
from .archive import tar_directory

__all__ = ["BuiltImage", "tar_bytes", "dir_layer", "build_image", "build_index", "write_layout", "TarEntry"]

TarEntry = tuple[tarfile.TarInfo, bytes]


def tar_bytes(entries: Iterable[TarEntry | tarfile.TarInfo]) -> bytes:
    """An uncompressed PAX tar with exactly the given members (for crafted, even hostile, layers)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for item in entries:
            info, data = item if isinstance(item, tuple) else (item, b"")
            if info.isreg():
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def dir_layer(path: str) -> bytes:
    """An uncompressed layer tar of the directory ``path``."""
    buf = io.BytesIO()
    tar_directory(path, buf)
    return buf.getvalue()


def _compress(tar: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(tar, compresslevel=1, mtime=0)
    if compression == "zstd":
        import zstandard
        return zstandard.ZstdCompressor().compress(tar)
    return tar


@dataclass
class BuiltImage:
    """An image's blobs: manifest bytes/digest, config, and every blob by digest."""

    manifest: bytes
    digest: str
    config: dict
    media_type: str
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return json.loads(self.manifest)["config"]["digest"]


def build_image(layers: list[bytes], config: dict | None = None, compression: str = "gzip",
                docker: bool = False, arch: str = "amd64", omit_media_type: bool = False) -> BuiltImage:
    """Make an image from uncompressed layer tars (base first); Docker or OCI media types."""
    diff_ids = [oci.sha256_digest(t) for t in layers]
    cfg = {"architecture": arch, "os": "linux", "created": "2026-01-01T00:00:00Z",
           "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                      "Cmd": ["/bin/sh"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids},
           "history": [{"created_by": "test layer"} for _ in layers]}
    for key, value in (config or {}).items():
        cfg[key] = value
    cfg_bytes = oci.canonical_json(cfg)
    blobs = {oci.sha256_digest(cfg_bytes): cfg_bytes}
    if docker:
        layer_type = oci.DOCKER_LAYER_GZIP if compression == "gzip" else "application/vnd.docker.image.rootfs.diff.tar"
        man_type, cfg_type = oci.DOCKER_MANIFEST, oci.DOCKER_CONFIG
    else:
        layer_type = {"gzip": oci.OCI_LAYER_GZIP, "zstd": oci.OCI_LAYER_ZSTD, "tar": oci.OCI_LAYER}[compression]
        man_type, cfg_type = oci.OCI_MANIFEST, oci.OCI_CONFIG
    descs = []
    for tar in layers:
        blob = _compress(tar, compression)
        blobs[oci.sha256_digest(blob)] = blob
        descs.append({"mediaType": layer_type, "digest": oci.sha256_digest(blob), "size": len(blob)})
    manifest = {"schemaVersion": 2, "mediaType": man_type,
                "config": {"mediaType": cfg_type, "digest": oci.sha256_digest(cfg_bytes), "size": len(cfg_bytes)},
                "layers": descs}
    if omit_media_type:
        del manifest["mediaType"]
    data = json.dumps(manifest, indent=1).encode()
    return BuiltImage(data, oci.sha256_digest(data), cfg, man_type, blobs)


def build_index(images: list[BuiltImage], docker: bool = False) -> tuple[bytes, str]:
    """A multi-platform index over ``images`` (platform from each config); returns (bytes, digest)."""
    entries = [{"mediaType": i.media_type, "digest": i.digest, "size": len(i.manifest),
                "platform": {"os": i.config["os"], "architecture": i.config["architecture"],
                             **({"variant": "v8"} if i.config["architecture"] == "arm64" else {})}}
               for i in images]
    doc = {"schemaVersion": 2, "mediaType": oci.DOCKER_LIST if docker else oci.OCI_INDEX,
           "manifests": entries}
    data = json.dumps(doc, indent=1).encode()
    return data, oci.sha256_digest(data)


def write_layout(path: str, images: dict[str, BuiltImage]) -> str:
    """Write an OCI image layout with ``images`` by tag (readable by skopeo and umoci)."""
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    manifests = []
    for tag, image in images.items():
        for digest, blob in {**image.blobs, image.digest: image.manifest}.items():
            with open(os.path.join(path, "blobs", "sha256", oci.digest_hex(digest)), "wb") as f:
                f.write(blob)
        manifests.append({"mediaType": image.media_type, "digest": image.digest,
                          "size": len(image.manifest), "annotations": {oci.REF_NAME: tag}})
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": manifests}, f)
    return path
