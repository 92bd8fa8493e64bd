"""shoal's container networking: bridges, veths, IPAM, NAT, isolation, published ports.

``NetworkManager`` is the facade; ``engine.network.dns`` (a separate package) is
the embedded resolver. The manager (and pyroute2, ~0.5 s to import) loads on
first use, so importing ``engine.network.dns`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.network.errors import (AddressError, NetworkError, NetworkNotFound, PortError,
                                   PortInUse, SubnetConflict)
from engine.network.netns import create_netns, remove_netns, run_in_netns
from engine.network.types import (Endpoint, IPAMConfig, Network, NetworkConfig, PortBinding,
                                  Publication)

__all__ = ["NetworkManager", "NetworkConfig", "IPAMConfig", "Network", "Endpoint", "PortBinding",
           "Publication", "NetworkError", "NetworkNotFound", "SubnetConflict", "AddressError",
           "PortError", "PortInUse", "BRIDGE_PREFIX", "VETH_PREFIX", "create_netns",
           "remove_netns", "run_in_netns"]

_LAZY = {"NetworkManager", "BRIDGE_PREFIX", "VETH_PREFIX"}


def __getattr__(name: str) -> Any:
    """Load the manager module on first access."""
    if name in _LAZY:
        return getattr(importlib.import_module("engine.network.manager"), name)
    raise AttributeError(f"module 'engine.network' has no attribute {name!r}")
