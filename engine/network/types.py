"""Plain values the network layer takes and returns (no side effects here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["IPAMConfig", "NetworkConfig", "Network", "Endpoint", "PortBinding", "Publication"]


@dataclass(frozen=True, slots=True)
class IPAMConfig:
    """One compose ``ipam.config`` entry; empty strings mean "choose for me"."""

    subnet: str = ""
    ip_range: str = ""
    gateway: str = ""


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """What a caller asks for: the engine-level form of a compose network."""

    name: str
    internal: bool = False
    enable_ipv6: bool = False
    external: bool = False
    ipam: tuple[IPAMConfig, ...] = ()
    driver_opts: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Network:
    """A network as it exists on the host."""

    name: str
    bridge: str
    subnet: str
    gateway: str
    ip_range: str = ""
    internal: bool = False
    subnet6: str = ""
    gateway6: str = ""
    mtu: int = 1500
    external: bool = False


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One container interface plugged into a network."""

    container_id: str
    network: str
    netns: str
    interface: str
    host_veth: str
    ipv4_address: str
    mac_address: str
    ipv6_address: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PortBinding:
    """A compose port mapping; host_port 0 = random, host_port_end > host_port = a range."""

    container_port: int
    protocol: Literal["tcp", "udp"] = "tcp"
    host_ip: str = ""
    host_port: int = 0
    host_port_end: int = 0


@dataclass(frozen=True, slots=True)
class Publication:
    """A published host port and the container backends behind it."""

    key: str  # "<host_ip or *>:<port>/<proto>"
    protocol: str
    host_ip: str
    host_port: int
    container_port: int
    group: str
    backends: tuple[tuple[str, str], ...] = field(default=())  # (container_id, ip), in order
    active: tuple[str, ...] = ()  # container ids currently receiving traffic
