"""The layer cache: step keys chained like BuildKit's, each pointing to the resulting image state.

key(step) = sha256(parent key, instruction as expanded, content hashes of COPY/ADD
sources, build args a RUN sees). The base of a chain is the FROM image's id, so a
changed base, instruction, file or arg invalidates that step and everything after.
An entry is a tiny file ``<root>/<key>`` holding the manifest digest; whether the
blobs and layer dirs still exist is checked by the builder (a gc'd state is a miss).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

__all__ = ["BuildCache", "step_key"]


def step_key(parent: str, *parts: str) -> str:
    """The cache key of a step from its parent's key and what defines it."""
    return hashlib.sha256(json.dumps([parent, *parts]).encode()).hexdigest()


class BuildCache:
    """Key -> manifest digest entries under ``root``."""

    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, mode=0o700, exist_ok=True)

    def get(self, key: str) -> str | None:
        """The manifest digest stored for ``key``, if any."""
        try:
            with open(os.path.join(self.root, key), encoding="ascii") as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None

    def put(self, key: str, manifest_digest: str) -> None:
        """Record ``key`` -> ``manifest_digest`` atomically."""
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(manifest_digest)
        os.replace(tmp, os.path.join(self.root, key))

    def clear(self) -> int:
        """Forget every entry; returns how many there were."""
        names = [n for n in os.listdir(self.root) if not n.startswith(".")]
        for name in names:
            os.unlink(os.path.join(self.root, name))
        return len(names)
