"""Pull an image from a registry into the store: manifest (HEAD first), platform, blobs, layers.

Blobs download concurrently into ``<store>/tmp/<hex>.partial`` (resumed on the
next attempt) and are moved into ``blobs/`` only after their digest checks out;
each layer is unpacked once per chainID with its diff_id verified. The image is
registered in index.json last, so an interrupted or failed pull never leaves a
named, incomplete image and a later pull completes the work.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Iterable, Iterator

from . import auth, oci
from .errors import ImageError, ImageNotFound, PullError
from .platform import Platform, parse_platform, select_manifest
from .reference import Reference, parse, registry_endpoint
from .registry import ProgressFn, RegistryClient, Transport
from .store import Image, ImageStore

__all__ = ["pull", "Puller"]


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Puller:
    """One pull of one reference into a store through a RegistryClient."""

    def __init__(self, store: ImageStore, client: RegistryClient, ref: Reference,
                 platform: Platform, progress: ProgressFn | None, max_workers: int) -> None:
        self.store, self.client, self.ref = store, client, ref
        self.platform, self.max_workers = platform, max_workers
        self.progress = progress or (lambda *a: None)

    def run(self) -> Image:
        local = self._up_to_date()
        if local is not None:
            self.progress("Image is up to date", local.digest, 0, 0)
            return local
        body, ctype, digest = self.client.get_manifest(self.ref.path, self.ref.ref)
        repo_digest = digest
        media, doc = oci.parse_manifest(body, ctype)
        if media in oci.INDEX_TYPES:
            desc = select_manifest(doc, self.platform)
            body, ctype, digest = self.client.get_manifest(self.ref.path, desc["digest"])
            media, doc = oci.parse_manifest(body, ctype)
            if media not in oci.MANIFEST_TYPES:
                raise ImageError("nested manifest indexes are not supported")
        config, layers = self._check_manifest(doc)
        config_doc = self._fetch_config(config)
        diff_ids = list((config_doc.get("rootfs") or {}).get("diff_ids") or [])
        if len(diff_ids) != len(layers):
            raise ImageError(f"config lists {len(diff_ids)} diff_ids for {len(layers)} layers")
        self._fetch_layers(layers, diff_ids)
        self.store.write_blob(body)
        names = [str(self.ref)] if self.ref.tag else []
        image = self.store.register(digest, names, repo_digest=repo_digest, repo_name=self.ref.name)
        self.progress("Pull complete", digest, 0, 0)
        return image

    def _up_to_date(self) -> Image | None:
        """The local image if the registry's digest (HEAD, not a pull) matches what we have."""
        try:
            local = self.store.lookup(str(self.ref))
        except ImageNotFound:
            return None
        if (local.config.get("os"), local.config.get("architecture")) != (
                self.platform.os, self.platform.architecture):
            return None
        if self.ref.digest:
            return local
        remote = self.client.head_manifest(self.ref.path, self.ref.tag)
        if remote and f"{self.ref.name}@{remote}" in local.repo_digests:
            return local
        return None

    @staticmethod
    def _check_manifest(doc: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        config = doc.get("config")
        layers = doc.get("layers")
        if not isinstance(config, dict) or not isinstance(layers, list):
            raise ImageError("manifest has no config or layers")
        if config.get("mediaType", oci.OCI_CONFIG) not in oci.CONFIG_TYPES:
            raise ImageError(f"unknown config media type {config.get('mediaType')!r} (not a container image)")
        for desc in [config, *layers]:
            oci.digest_hex(str(desc.get("digest", "")))
        for desc in layers:
            compression = oci.layer_compression(str(desc.get("mediaType", "")))
            if compression == "zstd":
                from .layers import zstd_available
                if not zstd_available():
                    raise ImageError("zstd-compressed layers need the 'zstandard' module")
        return config, layers

    def _download(self, desc: dict[str, Any]) -> None:
        digest, size = desc["digest"], int(desc.get("size", -1))
        if self.store.has_blob(digest):
            return
        partial = os.path.join(self.store.tmp, oci.digest_hex(digest) + ".partial")
        with _file_lock(partial + ".lock"):
            if not self.store.has_blob(digest):
                self.client.fetch_blob(self.ref.path, digest, size, partial, self.progress)
                self.store.add_blob_file(partial, digest)
        with contextlib.suppress(OSError):
            os.unlink(partial + ".lock")

    def _fetch_config(self, desc: dict[str, Any]) -> dict[str, Any]:
        self._download(desc)
        try:
            doc = json.loads(self.store.read_blob(desc["digest"]))
        except ValueError:
            raise ImageError("image config is not valid JSON") from None
        if not isinstance(doc, dict):
            raise ImageError("image config is not a JSON object")
        return doc

    def _layer(self, desc: dict[str, Any], diff_id: str, chain: str) -> None:
        digest = desc["digest"]
        if os.path.isdir(self.store.layer_dir(chain)) and self.store.has_blob(digest):
            self.store.ensure_layer(digest, desc["mediaType"], diff_id, chain)
            self.progress("Already exists", digest, 0, 0)
            return
        self._download(desc)
        self.progress("Extracting", digest, 0, int(desc.get("size", 0)))
        self.store.ensure_layer(digest, desc["mediaType"], diff_id, chain)
        self.progress("Done", digest, 0, 0)

    def _fetch_layers(self, layers: list[dict[str, Any]], diff_ids: list[str]) -> None:
        chains = oci.chain_ids(diff_ids)
        with ThreadPoolExecutor(max(1, self.max_workers), thread_name_prefix="shoal-pull") as pool:
            futures = [pool.submit(self._layer, d, i, c) for d, i, c in zip(layers, diff_ids, chains)]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for f in pending:
                f.cancel()
            for f in futures:
                if f.done() and not f.cancelled() and f.exception() is not None:
                    raise f.exception()  # type: ignore[misc]
        for f in futures:
            f.result()


def pull(store: ImageStore, ref: str, *, platform: str | Platform | None = None,
         transport: Transport | None = None, progress: ProgressFn | None = None,
         insecure: Iterable[str] = (), creds: tuple[str, str] | None = None,
         max_workers: int = 4, retries: int = 4, backoff: float = 0.25) -> Image:
    """Pull ``ref`` into ``store`` and return the image; PullError names the image and reason."""
    r = parse(ref)
    try:
        want = parse_platform(platform)
        insecure_hosts = set(insecure)
        client = RegistryClient(r.domain, creds or auth.resolve(r.domain, store.root), transport,
                                insecure=bool({r.domain, registry_endpoint(r.domain)} & insecure_hosts),
                                retries=retries, backoff=backoff)
        with store.ingesting():
            return Puller(store, client, r, want, progress, max_workers).run()
    except ImageError as exc:
        raise PullError(f"pull {r.familiar()}: {exc}") from exc
    except OSError as exc:
        raise PullError(f"pull {r.familiar()}: {exc.strerror or exc}") from exc
