"""The embedded resolver's records: which names each network shows, and who is asking.

Pure and synchronous (no I/O): the network layer calls ``add``/``remove`` as it
attaches and detaches endpoints, the health monitor calls ``set_healthy``, and the
server calls ``lookup``/``reverse``/``networks_of`` on every query. A client sees
only names registered on networks its own container is attached to, so the same
service name in two projects (or two networks) answers each client with its own.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["Registry", "Endpoint", "normalize"]


def normalize(name: str) -> str:
    """Lookup key of a name: lower case, no trailing dot (DNS names are case-insensitive)."""
    return name.strip().rstrip(".").lower()


def _qtype(qtype: int | str) -> str:
    """'A' or 'AAAA' (other types have no addresses in the registry)."""
    if isinstance(qtype, str):
        return qtype.upper()
    return {1: "A", 28: "AAAA", 12: "PTR"}.get(qtype, str(qtype))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One container's attachment to one network, with the names it answers to there."""

    network: str
    container_id: str
    ip: str
    ipv6: str
    names: tuple[str, ...]  # normalized; the first is the PTR name


class Registry:
    """Records per network, health, internal flags and per-container upstream servers."""

    def __init__(self, domains: Iterable[str] = (), rng: random.Random | None = None) -> None:
        self._eps: dict[tuple[str, str], Endpoint] = {}
        self._by_name: dict[str, dict[str, set[str]]] = {}  # name -> network -> container ids
        self._by_ip: dict[str, set[tuple[str, str]]] = {}  # ip -> {(network, container id)}
        self._nets: dict[str, set[str]] = {}  # container id -> networks
        self._unhealthy: set[str] = set()
        self._internal: set[str] = set()
        self._dns: dict[str, tuple[str, ...]] = {}
        self._links: dict[str, dict[str, str]] = {}  # container id -> {alias: target name}
        self._domains = tuple(normalize(d) for d in domains if normalize(d))
        self._rng = rng or random.Random()

    # --- networks and containers -------------------------------------------------
    def set_network(self, network: str, internal: bool = False) -> None:
        """Declare a network and whether it is ``internal: true`` (no forwarding for its clients)."""
        (self._internal.add if internal else self._internal.discard)(network)

    def is_internal(self, network: str) -> bool:
        """True when the network was declared internal."""
        return network in self._internal

    def add(self, network: str, container_id: str, ip: str, names: Iterable[str], ipv6: str = "") -> None:
        """Register (or replace) a container's endpoint on a network with the names it answers to."""
        ip = str(ipaddress.IPv4Address(ip)) if ip else ""
        ipv6 = str(ipaddress.IPv6Address(ipv6)) if ipv6 else ""
        keyed = tuple(dict.fromkeys(n for n in (normalize(x) for x in names) if n))
        self._drop(network, container_id)
        ep = Endpoint(network, container_id, ip, ipv6, keyed)
        self._eps[(network, container_id)] = ep
        self._nets.setdefault(container_id, set()).add(network)
        for name in keyed:
            self._by_name.setdefault(name, {}).setdefault(network, set()).add(container_id)
        for addr in (ip, ipv6):
            if addr:
                self._by_ip.setdefault(addr, set()).add((network, container_id))

    def remove(self, container_id: str, network: str | None = None) -> None:
        """Forget a container on one network, or everywhere (with its health and dns settings)."""
        nets = [network] if network is not None else list(self._nets.get(container_id, ()))
        for net in nets:
            self._drop(net, container_id)
        if container_id not in self._nets:
            self._unhealthy.discard(container_id)
            self._dns.pop(container_id, None)
            self._links.pop(container_id, None)

    def _drop(self, network: str, container_id: str) -> None:
        ep = self._eps.pop((network, container_id), None)
        if ep is None:
            return
        self._nets[container_id].discard(network)
        if not self._nets[container_id]:
            del self._nets[container_id]
        for name in ep.names:
            nets = self._by_name.get(name, {})
            nets.get(network, set()).discard(container_id)
            if not nets.get(network, True):
                del nets[network]
            if not nets:
                self._by_name.pop(name, None)
        for addr in (ep.ip, ep.ipv6):
            owners = self._by_ip.get(addr)
            if owners is not None:
                owners.discard((network, container_id))
                if not owners:
                    del self._by_ip[addr]

    def set_healthy(self, container_id: str, healthy: bool) -> None:
        """Mark a container (un)healthy; unhealthy ones drop out of every answer until healthy again."""
        (self._unhealthy.discard if healthy else self._unhealthy.add)(container_id)

    def set_dns(self, container_id: str, servers: Sequence[str]) -> None:
        """Compose ``dns:`` for a container: its unknown names go to these servers instead of the host's."""
        if servers:
            self._dns[container_id] = tuple(servers)
        else:
            self._dns.pop(container_id, None)

    def set_links(self, container_id: str, links: dict[str, str]) -> None:
        """Compose ``links`` of a container ({alias: service}): aliases only that container resolves."""
        clean = {normalize(a): normalize(t) for a, t in links.items() if normalize(a) and normalize(t)}
        if clean:
            self._links[container_id] = clean
        else:
            self._links.pop(container_id, None)

    # --- queries -------------------------------------------------------------------
    def _candidates(self, client_networks: set[str], name: str) -> list[tuple[str, set[str]]]:
        """(bare name, networks to search) pairs: as asked, minus a network suffix, minus a search domain."""
        key = normalize(name)
        out = [(key, set(client_networks))]
        for net in client_networks:
            suffix = "." + normalize(net)
            if key.endswith(suffix) and len(key) > len(suffix):
                out.append((key[: -len(suffix)], {net}))
        for dom in self._domains:
            suffix = "." + dom
            if key.endswith(suffix) and len(key) > len(suffix):
                out.append((key[: -len(suffix)], set(client_networks)))
        return out

    def _members(self, client_networks: set[str], name: str, client: str | None = None) -> list[Endpoint] | None:
        """Endpoints a name stands for on the client's networks; None if the name is unknown there."""
        links = self._links.get(client, {}) if client is not None else {}
        for bare, nets in self._candidates(client_networks, name):
            if bare in links:
                bare = links[bare]
            found = self._by_name.get(bare)
            if not found:
                continue
            eps = [self._eps[(net, cid)] for net in sorted(nets & found.keys()) for cid in sorted(found[net])]
            if eps:
                return eps
        return None

    def exists(self, client_networks: set[str], name: str, client: str | None = None) -> bool:
        """True if the name is registered on one of the client's networks (answered here, never forwarded)."""
        return self._members(client_networks, name, client) is not None

    def lookup(self, client_networks: set[str], name: str, qtype: int | str = "A",
               client: str | None = None) -> list[str]:
        """Addresses of the name's healthy-or-running members on the client's networks, shuffled.

        ``client`` (the asking container's id) enables its ``links`` aliases.
        """
        kind = _qtype(qtype)
        eps = self._members(client_networks, name, client) or []
        seen: dict[str, None] = {}
        for ep in eps:
            if ep.container_id in self._unhealthy:
                continue
            addr = ep.ip if kind == "A" else ep.ipv6 if kind == "AAAA" else ""
            if addr:
                seen[addr] = None
        addrs = list(seen)
        self._rng.shuffle(addrs)
        return addrs

    def reverse(self, ip: str, client_networks: set[str] | None = None) -> str | None:
        """PTR name of an address: ``<first name>.<network>``, only for networks the client shares."""
        try:
            key = str(ipaddress.ip_address(ip))
        except ValueError:
            return None
        for net, cid in sorted(self._by_ip.get(key, ())):
            if client_networks is not None and net not in client_networks:
                continue
            ep = self._eps[(net, cid)]
            if ep.names:
                return f"{ep.names[0]}.{normalize(net)}"
        return None

    def container_of(self, client_ip: str) -> str | None:
        """The container that owns this address on any network, if any."""
        owners = self._by_ip.get(_canon(client_ip), ())
        return min(cid for _n, cid in owners) if owners else None

    def networks_of(self, client_ip: str) -> set[str]:
        """Every network of the container that owns ``client_ip`` (a client sees all of its networks)."""
        cid = self.container_of(client_ip)
        return self.networks_of_container(cid) if cid is not None else set()

    def networks_of_container(self, container_id: str) -> set[str]:
        """Every network the container is registered on."""
        return set(self._nets.get(container_id, ()))

    def may_forward(self, client_networks: set[str]) -> bool:
        """False when every network of the client is internal: such clients get internal names only."""
        return not client_networks or any(n not in self._internal for n in client_networks)

    def upstreams_for(self, client_ip: str) -> tuple[str, ...] | None:
        """The client's own ``dns:`` servers, or None to use the resolver's defaults."""
        cid = self.container_of(client_ip)
        return self.dns_of(cid) if cid is not None else None

    def dns_of(self, container_id: str) -> tuple[str, ...] | None:
        """A container's own ``dns:`` servers, or None."""
        return self._dns.get(container_id)

    def endpoints(self) -> list[Endpoint]:
        """Every registered endpoint (for inspection and debugging)."""
        return list(self._eps.values())


def _canon(ip: str) -> str:
    """Canonical text of an address; IPv4-mapped IPv6 (from dual-stack sockets) becomes IPv4."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return str(addr.ipv4_mapped)
    return str(addr)
