"""Networks and volumes for the executor: named volumes in the engine's VolumeStore, networks
through ``Networking`` (bridges); without it (``--networking none``) networks are only names and
containers keep a private loopback-only namespace. Creates are idempotent.
"""

from __future__ import annotations

import threading
from typing import Any

from engine.volumes import VolumeNotFound, VolumeStore

__all__ = ["Resources"]


class Resources:
    """The ``ResourcesLike`` the executor drives."""

    def __init__(self, root: str, net: Any = None) -> None:
        self.volumes = VolumeStore(root)
        self.net = net  # orchestrator.daemon.netwire.Networking or None
        self._names: set[str] = set()
        self._lock = threading.Lock()

    @property
    def networks(self) -> set[str]:
        """The networks that exist now."""
        if self.net is not None:
            return self.net.network_names()
        with self._lock:
            return set(self._names)

    def create_network(self, name: str) -> None:
        if self.net is not None:
            return self.net.create_network(name)
        with self._lock:
            self._names.add(name)

    def remove_network(self, name: str) -> None:
        if self.net is not None:
            return self.net.remove_network(name)
        with self._lock:
            self._names.discard(name)  # down is idempotent: a missing network is fine

    def create_volume(self, name: str) -> None:
        self.volumes.create(name, labels={"com.docker.compose.volume": name})

    def remove_volume(self, name: str) -> None:
        try:
            self.volumes.remove(name)
        except VolumeNotFound:
            pass
