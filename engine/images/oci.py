"""OCI and Docker media types, digests and chain IDs: pure helpers shared by the image modules."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

from .errors import ImageError

__all__ = [
    "OCI_INDEX", "OCI_MANIFEST", "OCI_CONFIG", "DOCKER_LIST", "DOCKER_MANIFEST", "DOCKER_CONFIG",
    "INDEX_TYPES", "MANIFEST_TYPES", "CONFIG_TYPES", "LAYER_TYPES", "OCI_LAYER", "OCI_LAYER_GZIP",
    "OCI_LAYER_ZSTD", "DOCKER_LAYER_GZIP", "MANIFEST_ACCEPT", "REF_NAME", "IMAGE_NAME",
    "sha256_digest", "digest_hex", "chain_ids", "canonical_json", "check_digest", "valid_digest",
    "parse_manifest", "layer_compression",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = OCI_LAYER + "+gzip"
OCI_LAYER_ZSTD = OCI_LAYER + "+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
LAYER_TYPES = {
    OCI_LAYER: "tar", OCI_LAYER_GZIP: "gzip", OCI_LAYER_ZSTD: "zstd",
    DOCKER_LAYER_GZIP: "gzip", DOCKER_LAYER: "tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "tar",
}
MANIFEST_ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])
REF_NAME = "org.opencontainers.image.ref.name"
IMAGE_NAME = "io.containerd.image.name"

_HEX = frozenset("0123456789abcdef")


def sha256_digest(data: bytes) -> str:
    """The ``sha256:<hex>`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def valid_digest(digest: str) -> bool:
    """True for a well-formed sha256 digest (the only algorithm the store keeps)."""
    hexpart = digest[7:]
    return digest.startswith("sha256:") and len(hexpart) == 64 and set(hexpart) <= _HEX


def digest_hex(digest: str) -> str:
    """The hex part of a sha256 digest, refusing anything that could escape a path."""
    if not valid_digest(digest):
        raise ImageError(f"unsupported or malformed digest {digest!r}")
    return digest[7:]


def check_digest(data: bytes, digest: str, what: str) -> None:
    """Raise unless ``data`` hashes to ``digest``."""
    from .errors import DigestMismatch
    actual = sha256_digest(data)
    if actual != digest:
        raise DigestMismatch(f"{what}: digest mismatch (expected {digest}, got {actual})")


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """ChainID(L0)=DiffID(L0); ChainID(Ln)=sha256(ChainID(Ln-1) + ' ' + DiffID(Ln)), base first."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else sha256_digest(f"{out[-1]} {diff_id}".encode()))
    return out


def canonical_json(obj: Any) -> bytes:
    """Compact, key-sorted JSON bytes: stable digests for blobs shoal writes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def parse_manifest(body: bytes, content_type: str = "") -> tuple[str, dict[str, Any]]:
    """Decode a manifest or index and return (media type, document); refuses schema1."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise ImageError(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ImageError("manifest is not a JSON object")
    media = doc.get("mediaType") or content_type.split(";")[0].strip()
    if doc.get("schemaVersion") == 1 or "signatures" in doc:
        raise ImageError("schema 1 manifests are not supported")
    if media not in INDEX_TYPES | MANIFEST_TYPES:
        media = OCI_INDEX if "manifests" in doc else OCI_MANIFEST if "config" in doc else media
    if media not in INDEX_TYPES | MANIFEST_TYPES:
        raise ImageError(f"unknown manifest media type {media!r}")
    return media, doc


def layer_compression(media_type: str) -> str:
    """'tar', 'gzip' or 'zstd' for a layer media type; raises for unknown ones."""
    try:
        return LAYER_TYPES[media_type]
    except KeyError:
        raise ImageError(f"unknown layer media type {media_type!r}") from None
