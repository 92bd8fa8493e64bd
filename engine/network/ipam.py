"""IP address management: pick subnets, validate compose ``ipam``, hand out addresses.

Pure functions over ``ipaddress`` values; the manager persists their results.
Defaults follow Podman: /24s from 10.89.0.0/16, then wider 10.x pools, gateway
.1, containers from .2 upward; IPv6 /64s from a ULA /48.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Iterable

from engine.network.errors import AddressError, SubnetConflict
from engine.network.types import IPAMConfig

__all__ = ["DEFAULT_POOLS", "IPv4Plan", "plan_ipv4", "plan_ipv6", "allocate", "check_address",
           "overlapping"]

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_POOLS: tuple[tuple[str, int], ...] = (("10.89.0.0/16", 24), ("10.90.0.0/15", 24),
                                              ("10.92.0.0/14", 24), ("10.96.0.0/11", 24),
                                              ("10.128.0.0/9", 24))
ULA_PREFIX = "fd5b:0a1e::/32"


@dataclass(frozen=True, slots=True)
class IPv4Plan:
    """A validated IPv4 layout for one network."""

    subnet: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    ip_range: ipaddress.IPv4Network | None = None


def overlapping(net: Net, others: Iterable[Net]) -> Net | None:
    """The first of ``others`` that overlaps ``net`` (same family), else None."""
    for o in others:
        if o.version == net.version and o.prefixlen > 0 and net.overlaps(o):
            return o
    return None


def _parse_net(text: str, what: str) -> ipaddress.IPv4Network:
    """Parse an IPv4 network, strictly, with a clear error."""
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise AddressError(f"invalid {what} {text!r}: {exc}") from None
    if net.version != 4:
        raise AddressError(f"{what} {text!r} is not IPv4")
    return net  # type: ignore[return-value]


def _first_free(pools: Iterable[tuple[str, int]], taken: list[Net]) -> ipaddress.IPv4Network:
    """The first pool subnet that overlaps nothing taken."""
    for pool, prefix in pools:
        for cand in ipaddress.ip_network(pool).subnets(new_prefix=prefix):
            if overlapping(cand, taken) is None:
                return cand  # type: ignore[return-value]
    raise SubnetConflict("no free subnet left in the default address pools")


def plan_ipv4(name: str, cfg: IPAMConfig | None, networks: dict[str, Net],
              host_routes: list[Net]) -> IPv4Plan:
    """Validate or choose network ``name``'s IPv4 subnet, gateway and range."""
    cfg = cfg or IPAMConfig()
    if not cfg.subnet:
        if cfg.ip_range or cfg.gateway:
            raise AddressError(f"network {name}: ip_range and gateway need a subnet")
        subnet = _first_free(DEFAULT_POOLS, [*networks.values(), *host_routes])
        return IPv4Plan(subnet, subnet.network_address + 1)
    subnet = _parse_net(cfg.subnet, f"subnet of network {name}")
    for other, net in networks.items():
        if other != name and net.version == 4 and net.overlaps(subnet):
            raise SubnetConflict(f"network {name}: subnet {subnet} overlaps network {other} ({net})")
    clash = overlapping(subnet, host_routes)
    if clash is not None:
        raise SubnetConflict(f"network {name}: subnet {subnet} collides with host route {clash}")
    if subnet.num_addresses < 4:
        raise AddressError(f"network {name}: subnet {subnet} is too small")
    ip_range = _parse_net(cfg.ip_range, f"ip_range of network {name}") if cfg.ip_range else None
    if ip_range is not None and not ip_range.subnet_of(subnet):
        raise AddressError(f"network {name}: ip_range {ip_range} is outside subnet {subnet}")
    gateway = check_address(cfg.gateway, subnet, f"gateway of network {name}") if cfg.gateway \
        else subnet.network_address + 1
    return IPv4Plan(subnet, gateway, ip_range)  # type: ignore[arg-type]


def plan_ipv6(name: str, networks: dict[str, Net], cfg: IPAMConfig | None = None
              ) -> tuple[ipaddress.IPv6Network, ipaddress.IPv6Address]:
    """Network ``name``'s IPv6 subnet and gateway: ``cfg``'s, else a free ULA /64 stable per name."""
    if cfg is not None and cfg.subnet:
        try:
            subnet = ipaddress.IPv6Network(cfg.subnet, strict=True)
        except ValueError as exc:
            raise AddressError(f"invalid IPv6 subnet of network {name} {cfg.subnet!r}: {exc}") from None
        clash = next((o for o, n in networks.items() if n.version == 6 and n.overlaps(subnet)), None)
        if clash is not None:
            raise SubnetConflict(f"network {name}: subnet {subnet} overlaps network {clash}")
        gateway = check_address(cfg.gateway, subnet, f"IPv6 gateway of network {name}") \
            if cfg.gateway else subnet.network_address + 1
        return subnet, gateway  # type: ignore[return-value]
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:2], "big")
    base = ipaddress.ip_network(ULA_PREFIX)
    for i in range(65536):
        hi = (seed + i) % 65536
        cand = ipaddress.IPv6Network((int(base.network_address) + (hi << 80), 64))
        if overlapping(cand, networks.values()) is None:
            return cand, cand.network_address + 1
    raise SubnetConflict("no free IPv6 subnet left")


def check_address(text: str, subnet: Net, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse ``text`` as a usable host address of ``subnet``."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise AddressError(f"invalid {what} {text!r}") from None
    if addr not in subnet or addr in (subnet.network_address, subnet.broadcast_address):
        raise AddressError(f"{what} {addr} is outside subnet {subnet}")
    return addr


def allocate(subnet: Net, gateway, used: Iterable[str], ip_range: Net | None = None,
             wanted: str = "", what: str = "address") -> str:
    """A free host address of ``subnet`` (inside ``ip_range`` when set), or ``wanted`` if free."""
    taken = {ipaddress.ip_address(u) for u in used} | {gateway}
    if wanted:
        addr = check_address(wanted, subnet, what)
        if addr in taken:
            raise AddressError(f"{what} {addr} is already in use")
        return str(addr)
    pool = ip_range or subnet
    for addr in pool:  # a range's own first/last addresses are usable, the subnet's are not
        if addr not in taken and addr != subnet.broadcast_address and addr != subnet.network_address:
            return str(addr)
    raise AddressError(f"no free address left in {pool}")
