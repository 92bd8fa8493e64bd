"""Build states as OCI images: turn an overlay upper dir into a stored layer, write configs and manifests.

The upper dir of a step *becomes* the layer directory under the store's chainID
(no re-extraction); only an uncompressed tar is written, to get the diff_id and a
blob the store can save or push later. Intermediate states that need to stay on
disk (layer-making steps, RUN bases) are registered in the store without a name.
"""

from __future__ import annotations

import copy
import datetime
import errno
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any

from engine.images import oci
from engine.images.archive import tar_directory
from engine.images.platform import host_platform
from engine.images.store import Image, ImageStore

__all__ = ["BuildState", "scratch_state", "state_from_image", "write_state", "add_layer",
           "note_history", "ensure_registered", "tag_state", "load_state", "DEFAULT_PATH", "now_iso"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def now_iso() -> str:
    """The current UTC time as RFC3339 with microseconds."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class BuildState:
    """An image under construction: full OCI config, its manifest's layer descriptors, its digests."""

    config: dict[str, Any]
    layers: list[dict[str, Any]] = field(default_factory=list)
    manifest_digest: str = ""
    image_id: str = ""

    @property
    def runtime(self) -> dict[str, Any]:
        """The ``config`` section (Env, Cmd, User, ...)."""
        return self.config.setdefault("config", {})

    @property
    def diff_ids(self) -> list[str]:
        """The uncompressed layer digests, base first."""
        return list(self.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})["diff_ids"])

    def layer_dirs(self, store: ImageStore) -> list[str]:
        """Unpacked layer directories, top first."""
        return [store.layer_dir(c) for c in reversed(oci.chain_ids(self.diff_ids))]

    def layer_keys(self, store: ImageStore) -> list[str]:
        """Short relative layer paths under ``store.layers``, top first."""
        return [store.layer_key(c) for c in reversed(oci.chain_ids(self.diff_ids))]

    def derive(self) -> "BuildState":
        """A mutable copy to apply the next instruction to."""
        return BuildState(copy.deepcopy(self.config), list(self.layers))


def scratch_state() -> BuildState:
    """The empty image ``FROM scratch`` starts from."""
    plat = host_platform()
    config = {"architecture": plat.architecture, "os": plat.os, "created": now_iso(),
              "config": {"Env": [f"PATH={DEFAULT_PATH}"]},
              "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    if plat.variant:
        config["variant"] = plat.variant
    return BuildState(config)


def state_from_image(image: Image) -> BuildState:
    """A build state starting from a stored image (PATH added when the image sets none, like BuildKit)."""
    state = BuildState(copy.deepcopy(image.config), list(image.manifest.get("layers", [])),
                       image.digest, image.id)
    env = state.runtime.setdefault("Env", []) or []
    if not any(e.startswith("PATH=") for e in env):
        state.runtime["Env"] = [f"PATH={DEFAULT_PATH}", *env]
    return state


def load_state(store: ImageStore, manifest_digest: str) -> BuildState | None:
    """The state a cache entry points to, or None when any blob or layer dir is gone."""
    try:
        manifest = json.loads(store.read_blob(manifest_digest))
        config = json.loads(store.read_blob(manifest["config"]["digest"]))
    except Exception:  # noqa: BLE001 - any damage is a cache miss
        return None
    state = BuildState(config, list(manifest.get("layers", [])), manifest_digest, manifest["config"]["digest"])
    if not all(os.path.isdir(d) for d in state.layer_dirs(store)):
        return None
    if not all(store.has_blob(d["digest"]) for d in state.layers):
        return None
    return state


def write_state(store: ImageStore, state: BuildState) -> BuildState:
    """Store the config and manifest blobs; sets and returns the state's digests."""
    config_data = oci.canonical_json(state.config)
    state.image_id = store.write_blob(config_data)
    manifest = {"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST,
                "config": {"mediaType": oci.OCI_CONFIG, "digest": state.image_id, "size": len(config_data)},
                "layers": state.layers}
    state.manifest_digest = store.write_blob(oci.canonical_json(manifest))
    return state


def note_history(state: BuildState, created_by: str, empty_layer: bool) -> None:
    """Append a history entry (and bump ``created``) for one instruction."""
    now = now_iso()
    entry: dict[str, Any] = {"created": now, "created_by": created_by, "comment": "shoal build"}
    if empty_layer:
        entry["empty_layer"] = True
    state.config.setdefault("history", []).append(entry)
    state.config["created"] = now


class _HashingWriter:
    def __init__(self, f) -> None:
        self.f, self.h, self.size = f, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.h.update(data)
        self.size += len(data)
        return self.f.write(data)


def _move_dir(src: str, dst: str) -> None:
    """Rename ``src`` to ``dst`` (dropping ``src`` if ``dst`` exists); ``cp -a`` across filesystems."""
    if os.path.isdir(dst):
        shutil.rmtree(src, ignore_errors=True)
        return
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):  # a concurrent build made the same layer
            shutil.rmtree(src, ignore_errors=True)
            return
        if exc.errno != errno.EXDEV:
            raise
        tmp = dst + f".tmp{os.getpid()}"
        subprocess.run(["cp", "-a", src, tmp], check=True)
        os.rename(tmp, dst)
        shutil.rmtree(src, ignore_errors=True)


def add_layer(store: ImageStore, state: BuildState, upper: str) -> bool:
    """Make ``upper`` (overlay form) the state's next layer; False (and nothing added) when it is empty."""
    if not os.listdir(upper):
        shutil.rmtree(upper, ignore_errors=True)
        return False
    fd, tmp = tempfile.mkstemp(dir=store.tmp, suffix=".layer")
    try:
        with os.fdopen(fd, "wb") as f:
            writer = _HashingWriter(f)
            tar_directory(upper, writer)  # type: ignore[arg-type]
        diff_id = "sha256:" + writer.h.hexdigest()
        if not store.has_blob(diff_id):
            store.add_blob_file(tmp, diff_id)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    diff_ids = state.diff_ids + [diff_id]
    chain = oci.chain_ids(diff_ids)[-1]
    _move_dir(upper, store.layer_dir(chain))
    store.ensure_layer(diff_id, oci.OCI_LAYER, diff_id, chain)  # makes the short link
    state.config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    state.layers.append({"mediaType": oci.OCI_LAYER, "digest": diff_id, "size": writer.size})
    return True


def _registered(store: ImageStore, digest: str) -> bool:
    return any(e.get("digest") == digest for e in store.read_index().get("manifests", []))


def ensure_registered(store: ImageStore, state: BuildState) -> None:
    """Keep the state's manifest in the store's index (unnamed) so gc keeps it and the engine finds it."""
    if not state.manifest_digest:
        write_state(store, state)
    if not _registered(store, state.manifest_digest):
        store.register(state.manifest_digest, [])


def tag_state(store: ImageStore, state: BuildState, tags: list[str]) -> Image:
    """Give the final state its names (or keep it unnamed)."""
    if not state.manifest_digest:
        write_state(store, state)
    if tags:
        return store.register(state.manifest_digest, tags)
    ensure_registered(store, state)
    return store.lookup(state.image_id)
