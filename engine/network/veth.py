"""veth pairs: host end on the bridge, peer born directly in the container netns."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pyroute2 import IPRoute

from engine.network.bridge import link_index, set_sysctl

__all__ = ["Addressing", "create_veth", "configure_peer", "set_hairpin"]

IFA_F_NODAD = 0x02


@dataclass(frozen=True, slots=True)
class Addressing:
    """What the container side of one attachment gets."""

    interface: str
    ipv4: str
    prefixlen: int
    gateway: str  # "" = no default route (internal network)
    mtu: int
    mac: str = ""
    ipv6: str = ""
    prefixlen6: int = 64
    gateway6: str = ""


def create_veth(ipr: IPRoute, host_name: str, peer_name: str, netns_path: str,
                bridge_index: int, mtu: int, owner: str = "") -> int:
    """Create the pair with its peer inside ``netns_path``; enslave and raise the host end."""
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        ipr.link("add", ifname=host_name, kind="veth", mtu=mtu,
                 peer={"ifname": peer_name, "net_ns_fd": fd, "mtu": mtu})
    finally:
        os.close(fd)
    idx = link_index(ipr, host_name)
    assert idx is not None
    if owner:  # the ifalias says which state root the host end belongs to
        ipr.link("set", index=idx, ifalias=owner)
    ipr.link("set", index=idx, master=bridge_index, state="up")
    return idx


def set_hairpin(ipr: IPRoute, host_name: str, on: bool = True) -> None:
    """Turn the bridge-port hairpin flag on, so a container reaches its own published port."""
    idx = link_index(ipr, host_name)
    if idx is not None:
        ipr.brport("set", index=idx, mode=1 if on else 0)  # IFLA_BRPORT_MODE = hairpin


def configure_peer(a: Addressing) -> str:
    """Inside the container netns: MAC, addresses, up, default route; returns the MAC."""
    with IPRoute() as ipr:
        idx = link_index(ipr, a.interface)
        if idx is None:
            raise LookupError(f"interface {a.interface} did not appear in the container")
        if a.mac:
            ipr.link("set", index=idx, address=a.mac)
        if a.ipv6:
            set_sysctl(f"net/ipv6/conf/{a.interface}/accept_dad", "0")
        ipr.addr("add", index=idx, address=a.ipv4, prefixlen=a.prefixlen)
        ipr.link("set", index=idx, state="up")
        if a.ipv6:
            ipr.addr("add", index=idx, address=a.ipv6, prefixlen=a.prefixlen6, flags=IFA_F_NODAD)
        lo = link_index(ipr, "lo")
        if lo is not None:
            ipr.link("set", index=lo, state="up")
        if a.gateway and not _has_default(ipr, 2):
            ipr.route("add", dst="default", gateway=a.gateway)
        if a.gateway6 and not _has_default(ipr, 10):
            ipr.route("add", dst="default", gateway=a.gateway6, family=10)
        return ipr.link("get", index=idx)[0].get("address")


def _has_default(ipr: IPRoute, family: int) -> bool:
    """True when the namespace already has a default route (a first network wins it)."""
    return any(r["dst_len"] == 0 and r["table"] == 254 for r in ipr.route("dump", family=family))
