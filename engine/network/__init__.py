"""shoal's container networking: bridges, veths, IPAM, NAT, isolation, published ports.

``NetworkManager`` is the facade; ``engine.network.dns`` (a separate package) is
the embedded resolver.
"""

from engine.network.errors import (AddressError, NetworkError, NetworkNotFound, PortError,
                                   PortInUse, SubnetConflict)
from engine.network.manager import BRIDGE_PREFIX, VETH_PREFIX, NetworkManager
from engine.network.netns import create_netns, remove_netns, run_in_netns
from engine.network.types import (Endpoint, IPAMConfig, Network, NetworkConfig, PortBinding,
                                  Publication)

__all__ = ["NetworkManager", "NetworkConfig", "IPAMConfig", "Network", "Endpoint", "PortBinding",
           "Publication", "NetworkError", "NetworkNotFound", "SubnetConflict", "AddressError",
           "PortError", "PortInUse", "BRIDGE_PREFIX", "VETH_PREFIX", "create_netns",
           "remove_netns", "run_in_netns"]
