"""The local image store: a plain OCI image layout plus unpacked layers keyed by chainID.

Layout under ``root``: ``oci-layout``, ``index.json`` (one entry per image name,
the name in ``org.opencontainers.image.ref.name``), ``blobs/sha256/<hex>``,
``layers/<chainid-hex>/`` (one overlay-form directory per layer, shared by every
image with that chain) and ``layers/l/<12 hex>`` short symlinks to them, so the
runtime can mount many lowerdirs by short relative paths from ``layers/``.
index.json is replaced atomically under a file lock; blobs and layers are
renamed into place only once complete, so a crash never leaves a half image.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from . import oci
from .errors import ImageError, ImageInUse, ImageNotFound, InvalidReference
from .layers import flatten, unpack_layer
from .reference import parse as parse_ref, is_image_id

__all__ = ["Image", "ImageStore", "REPO_DIGEST"]

REPO_DIGEST = "io.shoal.repo.digest"  # the digest the registry gave for the pulled tag


@dataclass
class Image:
    """A stored image: ids, names, its config and the unpacked layer directories (top first)."""

    id: str
    digest: str
    names: list[str]
    config: dict[str, Any]
    manifest: dict[str, Any]
    layer_dirs: list[str]
    layer_keys: list[str]
    layers_root: str
    chain_ids: list[str]
    size: int
    created: str
    repo_digests: list[str] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.id[7:19]


def _atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write a file by temp + fsync + rename, so readers see the old or the new content."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class ImageStore:
    """OCI-layout image store rooted at ``root`` (normally $SHOAL_ROOT/images)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.blobs = os.path.join(self.root, "blobs", "sha256")
        self.layers = os.path.join(self.root, "layers")
        self.tmp = os.path.join(self.root, "tmp")
        for d in (self.blobs, os.path.join(self.layers, "l"), self.tmp):
            os.makedirs(d, exist_ok=True)
        # Unpacked layers keep their setuid binaries and device nodes (as Docker does), so no
        # other host user may walk into them: the layer tree is root-only, like /var/lib/docker.
        for d in (self.layers, self.tmp):
            if os.stat(d).st_mode & 0o077:
                os.chmod(d, 0o700)
        if not os.path.exists(os.path.join(self.root, "oci-layout")):
            _atomic_write(os.path.join(self.root, "oci-layout"), b'{"imageLayoutVersion":"1.0.0"}')
        if not os.path.exists(self.index_path):
            _atomic_write(self.index_path, oci.canonical_json(
                {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": []}))

    # -- locking and index -------------------------------------------------------------
    @property
    def index_path(self) -> str:
        return os.path.join(self.root, "index.json")

    @contextlib.contextmanager
    def _lock(self, name: str = ".lock", shared: bool = False) -> Iterator[None]:
        fd = os.open(os.path.join(self.root, name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def ingesting(self) -> contextlib.AbstractContextManager[None]:
        """Held (shared) while blobs are added but not yet registered; gc waits for it."""
        return self._lock(".gc.lock", shared=True)

    def read_index(self) -> dict[str, Any]:
        with open(self.index_path, "rb") as f:
            return json.load(f)

    def _write_index(self, doc: dict[str, Any]) -> None:
        _atomic_write(self.index_path, json.dumps(doc, indent=2).encode())

    # -- blobs -------------------------------------------------------------------------
    def blob_path(self, digest: str) -> str:
        return os.path.join(self.blobs, oci.digest_hex(digest))

    def has_blob(self, digest: str) -> bool:
        return os.path.isfile(self.blob_path(digest))

    def read_blob(self, digest: str) -> bytes:
        """Read a (small, JSON) blob and check its digest."""
        try:
            with open(self.blob_path(digest), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise ImageError(f"blob {digest} is missing from the store") from None
        oci.check_digest(data, digest, f"stored blob {digest[:19]}")
        return data

    def write_blob(self, data: bytes) -> str:
        """Store bytes as a blob (no-op if present) and return its digest."""
        digest = oci.sha256_digest(data)
        if not self.has_blob(digest):
            _atomic_write(self.blob_path(digest), data)
        return digest

    def add_blob_file(self, path: str, digest: str) -> None:
        """Move an already verified file into the blob store."""
        os.replace(path, self.blob_path(digest))

    # -- layers ------------------------------------------------------------------------
    def layer_dir(self, chain_id: str) -> str:
        return os.path.join(self.layers, oci.digest_hex(chain_id))

    @staticmethod
    def layer_key(chain_id: str) -> str:
        return "l/" + oci.digest_hex(chain_id)[:12]

    def ensure_layer(self, blob_digest: str, media_type: str, diff_id: str, chain_id: str) -> str:
        """Unpack a stored layer blob once per chainID (diff_id verified); return its directory."""
        final = self.layer_dir(chain_id)
        if not os.path.isdir(final):
            tmp = os.path.join(self.layers, f"tmp-{oci.digest_hex(chain_id)[:12]}-{os.getpid()}-"
                                            f"{time.monotonic_ns()}")
            try:
                unpack_layer(self.blob_path(blob_digest), oci.layer_compression(media_type),
                             tmp, diff_id)
                try:
                    os.rename(tmp, final)
                except OSError as exc:  # someone else finished it first
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
            except OSError as exc:
                raise ImageError(f"unpacking layer {blob_digest[:19]}: {exc.strerror or exc}") from exc
            finally:
                if os.path.lexists(tmp):
                    shutil.rmtree(tmp, ignore_errors=True)
        link = os.path.join(self.layers, self.layer_key(chain_id))
        want = "../" + oci.digest_hex(chain_id)
        with contextlib.suppress(FileExistsError):
            os.symlink(want, link)
        if os.readlink(link) != want:  # 48-bit short keys: refuse a collision rather than mix layers
            raise ImageError(f"layer key {self.layer_key(chain_id)} already names another layer")
        return final

    # -- images ------------------------------------------------------------------------
    def _image(self, manifest_digest: str, entries: list[dict[str, Any]]) -> Image:
        manifest = json.loads(self.read_blob(manifest_digest))
        config_desc = manifest["config"]
        config = json.loads(self.read_blob(config_desc["digest"]))
        chains = oci.chain_ids((config.get("rootfs") or {}).get("diff_ids") or [])
        names = sorted({e["annotations"][oci.REF_NAME] for e in entries
                        if oci.REF_NAME in (e.get("annotations") or {})})
        repo_digests = sorted({f"{parse_ref(n).name}@{d}" for e in entries
                               for n in [(e.get("annotations") or {}).get(oci.IMAGE_NAME)] if n
                               for d in {manifest_digest, e["annotations"].get(REPO_DIGEST, manifest_digest)}})
        size = config_desc.get("size", 0) + sum(int(d.get("size", 0)) for d in manifest.get("layers", []))
        return Image(id=config_desc["digest"], digest=manifest_digest, names=names, config=config,
                     manifest=manifest, layer_dirs=[self.layer_dir(c) for c in reversed(chains)],
                     layer_keys=[self.layer_key(c) for c in reversed(chains)], layers_root=self.layers,
                     chain_ids=chains, size=size, created=str(config.get("created") or ""),
                     repo_digests=repo_digests)

    def list(self) -> list[Image]:
        """Every image in the store (one per manifest), newest names first within each."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for entry in self.read_index().get("manifests", []):
            if entry.get("mediaType", oci.OCI_MANIFEST) in oci.MANIFEST_TYPES:
                groups.setdefault(entry["digest"], []).append(entry)
        images = []
        for digest, entries in groups.items():
            try:
                images.append(self._image(digest, entries))
            except (ImageError, KeyError, ValueError, TypeError):
                continue  # a damaged entry is unusable; gc and remove-by-name still see it
        return images

    def _by_name(self, ref: str) -> list[Image]:
        try:
            r = parse_ref(ref)
        except InvalidReference:
            return []
        images = self.list()
        if r.digest:
            return [i for i in images if f"{r.name}@{r.digest}" in i.repo_digests]
        return [i for i in images if str(r) in i.names]

    def lookup(self, ref: str) -> Image:
        """Find an image by name (normalized), name@digest, id or unique id prefix."""
        found = self._by_name(ref)
        if not found and is_image_id(ref):
            want = ref if ref.startswith("sha256:") else "sha256:" + ref
            found = [i for i in self.list() if i.id.startswith(want) or i.digest.startswith(want)]
            if len({i.id for i in found}) > 1:
                raise ImageNotFound(f"image id prefix {ref!r} is ambiguous")
        if not found:
            raise ImageNotFound(f"image {ref!r} not found in the local store (pull it first)")
        for image in found:
            if all(os.path.isdir(d) for d in image.layer_dirs):
                return image
        self.unpack(found[0])
        return found[0]

    def unpack(self, image: Image) -> None:
        """(Re)create missing layer directories of an image from its blobs."""
        diff_ids = image.config["rootfs"]["diff_ids"]
        for desc, diff_id, chain in zip(image.manifest["layers"], diff_ids, image.chain_ids):
            self.ensure_layer(desc["digest"], desc["mediaType"], diff_id, chain)

    def flatten(self, image: Image, dest: str) -> str:
        """Copy an image's layers into one plain tree at ``dest`` (for hosts without overlayfs)."""
        self.unpack(image)
        return flatten(image.layer_dirs, dest)

    def register(self, manifest_digest: str, names: list[str],
                 repo_digest: str = "", repo_name: str = "") -> Image:
        """Point ``names`` at a stored, fully unpacked manifest, taking them from other images.

        Without names the image is kept unnamed, remembering ``repo_name@repo_digest`` if given.
        """
        manifest_data = self.read_blob(manifest_digest)
        with self._lock():
            doc = self.read_index()
            entries = doc.setdefault("manifests", [])
            normalized = [str(parse_ref(n)) for n in names]
            keep = [e for e in entries if (e.get("annotations") or {}).get(oci.REF_NAME) not in normalized]
            orphans = {e["digest"] for e in entries} - {e["digest"] for e in keep}
            for name in normalized:
                ann = {oci.REF_NAME: name, oci.IMAGE_NAME: name}
                if repo_digest:
                    ann[REPO_DIGEST] = repo_digest
                keep.append({"mediaType": oci.OCI_MANIFEST, "digest": manifest_digest,
                             "size": len(manifest_data), "annotations": ann})
            present = {e["digest"] for e in keep}
            for digest in sorted(orphans - present):
                keep.append({"mediaType": oci.OCI_MANIFEST, "digest": digest,
                             "size": os.path.getsize(self.blob_path(digest))})  # now dangling
            if not normalized and repo_name:
                keep.append({"mediaType": oci.OCI_MANIFEST, "digest": manifest_digest,
                             "size": len(manifest_data), "annotations": {
                                 oci.IMAGE_NAME: repo_name, REPO_DIGEST: repo_digest or manifest_digest}})
            elif not normalized and manifest_digest not in present:
                keep.append({"mediaType": oci.OCI_MANIFEST, "digest": manifest_digest,
                             "size": len(manifest_data)})
            doc["manifests"] = keep
            self._write_index(doc)
        return self._by_digest(manifest_digest)

    def _by_digest(self, manifest_digest: str) -> Image:
        for image in self.list():
            if image.digest == manifest_digest:
                return image
        raise ImageNotFound(f"manifest {manifest_digest} is not registered")

    def tag(self, src: str, dst: str) -> Image:
        """Give the image ``src`` the additional name ``dst``."""
        image = self.lookup(src)
        return self.register(image.digest, [dst])

    def _drop(self, predicate) -> None:
        with self._lock():
            doc = self.read_index()
            doc["manifests"] = [e for e in doc.get("manifests", []) if not predicate(e)]
            self._write_index(doc)

    def remove(self, ref: str, force: bool = False) -> list[str]:
        """Untag a name, or delete an image by id (force if it has several names); gc after."""
        image = self.lookup(ref)
        named = self._by_name(ref)
        out: list[str] = []
        if named and not parse_ref(ref).digest:
            name = str(parse_ref(ref))
            self._drop(lambda e: (e.get("annotations") or {}).get(oci.REF_NAME) == name)
            out.append(f"Untagged: {name}")
            if len(image.names) > 1:
                return out
        elif len(image.names) > 1 and not force:
            raise ImageInUse(f"image {ref!r} is referenced by {len(image.names)} names "
                             f"({', '.join(image.names)}); remove by name or use force")
        else:
            out.extend(f"Untagged: {n}" for n in image.names)
        self._drop(lambda e: e["digest"] == image.digest)
        out.append(f"Deleted: {image.id}")
        self.gc()
        return out

    def prune(self, keep: set[str], dangling_only: bool = False) -> list[str]:
        """Delete images not in ``keep`` (ids or names in use); only unnamed ones if asked."""
        wanted = set(keep)
        for ref in keep:
            with contextlib.suppress(InvalidReference):
                wanted.add(str(parse_ref(ref)))
        removed = []
        for image in self.list():
            if image.id in wanted or image.digest in wanted or wanted & set(image.names):
                continue
            if dangling_only and image.names:
                continue
            self._drop(lambda e, d=image.digest: e["digest"] == d)
            removed.append(image.id)
        self.gc()
        return removed

    def gc(self) -> tuple[int, int]:
        """Delete blobs and layer dirs no image references; returns (blobs, layers) removed."""
        with self._lock(".gc.lock"), self._lock():
            blobs: set[str] = set()
            chains: set[str] = set()
            for entry in self.read_index().get("manifests", []):
                with contextlib.suppress(ImageError, KeyError, ValueError):
                    blobs.add(oci.digest_hex(entry["digest"]))
                    manifest = json.loads(self.read_blob(entry["digest"]))
                    for desc in [manifest["config"], *manifest.get("layers", [])]:
                        blobs.add(oci.digest_hex(desc["digest"]))
                    config = json.loads(self.read_blob(manifest["config"]["digest"]))
                    chains.update(oci.digest_hex(c) for c in oci.chain_ids(config["rootfs"]["diff_ids"]))
            nblobs = nlayers = 0
            for name in os.listdir(self.blobs):
                if name not in blobs:
                    os.unlink(os.path.join(self.blobs, name))
                    nblobs += 1
            for name in os.listdir(self.layers):
                if name != "l" and name not in chains:
                    shutil.rmtree(os.path.join(self.layers, name), ignore_errors=True)
                    nlayers += 1
            links = os.path.join(self.layers, "l")
            for name in os.listdir(links):
                if not os.path.exists(os.path.join(links, name)):
                    os.unlink(os.path.join(links, name))
            for name in os.listdir(self.tmp):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.tmp, name))
            return nblobs, nlayers
