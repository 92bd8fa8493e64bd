"""Named volumes: directories under ``<root>/volumes/<name>/_data`` with JSON metadata beside them.

The layout matches Docker's local driver, so ``path(name)`` is what the runtime
bind-mounts into containers. Metadata is written atomically (tmp, fsync, rename).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from typing import Iterable, Mapping

__all__ = ["VolumeError", "VolumeNotFound", "VolumeInUse", "Volume", "VolumeStore", "check_name"]

_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")
_META = "meta.json"


class VolumeError(Exception):
    """A volume operation failed (bad name, conflicting options, I/O)."""


class VolumeNotFound(VolumeError):
    """No volume of that name."""


class VolumeInUse(VolumeError):
    """The volume is still used by a container."""


@dataclass(frozen=True, slots=True)
class Volume:
    """One named volume as ``docker volume inspect`` describes it."""

    name: str
    mountpoint: str
    driver: str = "local"
    labels: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)
    created_at: str = ""

    def to_json(self) -> dict[str, object]:
        """The Docker-shaped JSON object (Name, Driver, Mountpoint, Labels, Options, Scope)."""
        return {"CreatedAt": self.created_at, "Driver": self.driver, "Labels": dict(self.labels),
                "Mountpoint": self.mountpoint, "Name": self.name, "Options": dict(self.options),
                "Scope": "local"}


def check_name(name: str) -> str:
    """Return ``name`` if Docker would accept it as a volume name, else raise VolumeError."""
    if not _NAME.match(name):
        raise VolumeError(f'"{name}" includes invalid characters for a local volume name, '
                          "only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed")
    return name


def _write_atomic(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never half."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)
    dfd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class VolumeStore:
    """Creates, finds and removes named volumes under ``<root>/volumes``."""

    def __init__(self, root: str) -> None:
        self._dir = os.path.join(root, "volumes")
        os.makedirs(self._dir, mode=0o701, exist_ok=True)

    def _vdir(self, name: str) -> str:
        return os.path.join(self._dir, check_name(name))

    def path(self, name: str) -> str:
        """Host directory mounted into containers: ``<root>/volumes/<name>/_data``."""
        return os.path.join(self._vdir(name), "_data")

    def create(self, name: str, labels: Mapping[str, str] = {},  # noqa: B006 - never mutated
               driver_opts: Mapping[str, str] = {}) -> Volume:  # noqa: B006
        """Create the volume, or return the existing one when its options agree (idempotent)."""
        vdir = self._vdir(name)
        if os.path.isfile(os.path.join(vdir, _META)):
            vol = self.get(name)
            if driver_opts and dict(vol.options) != dict(driver_opts):
                raise VolumeError(f"volume {name} already exists with different driver options")
            return vol
        os.makedirs(os.path.join(vdir, "_data"), mode=0o755, exist_ok=True)
        vol = Volume(name, self.path(name), "local", dict(labels), dict(driver_opts),
                     time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        meta = {"name": name, "driver": vol.driver, "labels": vol.labels, "options": vol.options,
                "created_at": vol.created_at}
        _write_atomic(os.path.join(vdir, _META), json.dumps(meta, sort_keys=True).encode())
        return vol

    def get(self, name: str) -> Volume:
        """The volume ``name``; VolumeNotFound if it does not exist."""
        meta_path = os.path.join(self._vdir(name), _META)
        try:
            with open(meta_path, encoding="utf-8") as f:
                meta = json.load(f)
        except FileNotFoundError:
            raise VolumeNotFound(f"no such volume: {name}") from None
        except json.JSONDecodeError as e:
            raise VolumeError(f"volume {name}: corrupt metadata: {e}") from e
        return Volume(name, self.path(name), meta.get("driver", "local"), meta.get("labels", {}),
                      meta.get("options", {}), meta.get("created_at", ""))

    def list(self) -> list[Volume]:
        """Every volume, sorted by name (directories without metadata are skipped)."""
        out = []
        for name in sorted(os.listdir(self._dir)):
            if _NAME.match(name) and os.path.isfile(os.path.join(self._dir, name, _META)):
                out.append(self.get(name))
        return out

    def remove(self, name: str, force: bool = False, in_use: Iterable[str] = ()) -> None:
        """Delete the volume and its data; missing is an error unless ``force``.

        ``in_use`` lists volume names containers still mount; removing one of
        those raises VolumeInUse unless ``force``.
        """
        vdir = self._vdir(name)
        if not os.path.isfile(os.path.join(vdir, _META)):
            if force:
                return
            raise VolumeNotFound(f"no such volume: {name}")
        if name in set(in_use) and not force:
            raise VolumeInUse(f"volume is in use: {name}")
        os.unlink(os.path.join(vdir, _META))  # first: a crash mid-delete leaves no half volume listed
        shutil.rmtree(vdir)

    def prune(self, keep: Iterable[str]) -> list[str]:
        """Remove every volume not named in ``keep``; returns the removed names."""
        keep_set = set(keep)
        removed = []
        for vol in self.list():
            if vol.name not in keep_set:
                self.remove(vol.name, force=True)
                removed.append(vol.name)
        return removed
