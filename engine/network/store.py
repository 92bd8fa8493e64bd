"""The network layer's persistent state: one JSON document under ``<root>/network/``.

Networks, endpoints (which are the IPAM allocations: one address per endpoint,
so an address is never handed out twice) and publications. Written atomically
(temp file, fsync, rename) under an flock so two processes never interleave.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
from typing import Iterator

from engine.network.types import Endpoint, Network, Publication

__all__ = ["State", "StateStore"]


@dataclasses.dataclass(slots=True)
class State:
    """Everything the network layer remembers."""

    networks: dict[str, Network] = dataclasses.field(default_factory=dict)
    endpoints: dict[str, Endpoint] = dataclasses.field(default_factory=dict)  # "cid/network"
    publications: dict[str, Publication] = dataclasses.field(default_factory=dict)


def _tuples(cls, d: dict):
    """Build a frozen dataclass from JSON, turning lists back into tuples."""
    fix = {k: (tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v)
           for k, v in d.items()}
    return cls(**fix)


class StateStore:
    """Load and save ``State`` at ``<root>/network/state.json``."""

    def __init__(self, root: str) -> None:
        self.dir = os.path.join(root, "network")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.path = os.path.join(self.dir, "state.json")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state lock (an flock, released if the process dies)."""
        fd = os.open(os.path.join(self.dir, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def load(self) -> State:
        """The saved state (empty when there is none)."""
        try:
            with open(self.path) as f:
                raw = json.load(f)
        except FileNotFoundError:
            return State()
        return State(
            networks={k: _tuples(Network, v) for k, v in raw.get("networks", {}).items()},
            endpoints={k: _tuples(Endpoint, v) for k, v in raw.get("endpoints", {}).items()},
            publications={k: _tuples(Publication, v) for k, v in raw.get("publications", {}).items()},
        )

    def save(self, st: State) -> None:
        """Write the state atomically."""
        raw = {"networks": {k: dataclasses.asdict(v) for k, v in st.networks.items()},
               "endpoints": {k: dataclasses.asdict(v) for k, v in st.endpoints.items()},
               "publications": {k: dataclasses.asdict(v) for k, v in st.publications.items()}}
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(raw, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
