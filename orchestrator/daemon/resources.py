"""Networks and volumes for the executor: named volumes in the engine's VolumeStore.

Networks are kept as names in the daemon's memory (containers get a private
network namespace with loopback) until the bridge/DNS layer is wired in; see
``docs/architecture.md``. Creates are idempotent, removes of a missing object raise.
"""

from __future__ import annotations

import threading

from engine.volumes import VolumeNotFound, VolumeStore

__all__ = ["Resources"]


class Resources:
    """The ``ResourcesLike`` the executor drives."""

    def __init__(self, root: str) -> None:
        self.volumes = VolumeStore(root)
        self.networks: set[str] = set()
        self._lock = threading.Lock()

    def create_network(self, name: str) -> None:
        with self._lock:
            self.networks.add(name)

    def remove_network(self, name: str) -> None:
        with self._lock:
            self.networks.discard(name)  # down is idempotent: a missing network is fine

    def create_volume(self, name: str) -> None:
        self.volumes.create(name, labels={"com.docker.compose.volume": name})

    def remove_volume(self, name: str) -> None:
        try:
            self.volumes.remove(name)
        except VolumeNotFound:
            pass
