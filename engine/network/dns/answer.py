"""What to do with one incoming DNS message: answer it here, forward it, or drop it.

Pure: takes the registry, the raw bytes and who asked, returns reply bytes, a
``Forward`` decision, or None for garbage. Internal names are answered from memory
with no await in between, so they are never queued behind a slow upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from engine.network.dns import wire
from engine.network.dns.registry import Registry
from engine.network.dns.resolvconf import parse_server

__all__ = ["Forward", "decide", "servers_of"]


@dataclass(frozen=True, slots=True)
class Forward:
    """Send ``data`` verbatim to ``servers`` in order; answer ``query`` with an error if all fail."""

    query: wire.Query
    data: bytes
    servers: tuple[tuple[str, int], ...]


def servers_of(texts: Iterable[str], exclude: Iterable[tuple[str, int]] = ()) -> tuple[tuple[str, int], ...]:
    """Parse server strings, dropping invalid ones and our own listen addresses (no forwarding loops)."""
    skip = set(exclude)
    out = []
    for text in texts:
        try:
            addr = parse_server(text)
        except ValueError:
            continue
        if addr not in skip and addr not in out:
            out.append(addr)
    return tuple(out)


def _local(registry: Registry, q: wire.Query, nets: set[str], cid: str | None, ttl: int,
           limit: int | None) -> bytes | None:
    """Reply from the registry, or None when the name is not ours to answer."""
    if q.qclass not in (1, wire.ANY):
        return None
    if q.qtype == wire.PTR:
        ip = wire.ip_from_reverse(q.name)
        target = registry.reverse(ip, nets) if ip else None
        if target is None:
            return None
        return wire.build_answer(q, wire.PTR, [wire.rdata_for(wire.PTR, target)], ttl, limit)
    if not registry.exists(nets, q.name, cid):
        return None
    rtype = wire.AAAA if q.qtype == wire.AAAA else wire.A
    if q.qtype not in (wire.A, wire.AAAA, wire.ANY):
        return wire.build_answer(q, q.qtype, [], ttl, limit)  # NODATA: the name exists, no such record
    addrs = registry.lookup(nets, q.name, rtype, cid)
    return wire.build_answer(q, rtype, [wire.rdata_for(rtype, a) for a in addrs], ttl, limit)


def decide(registry: Registry, data: bytes, client_ip: str, *, default_upstreams: Iterable[str] = (),
           exclude: Iterable[tuple[str, int]] = (), ttl: int = 0, udp: bool = True,
           container_id: str | None = None) -> bytes | Forward | None:
    """Reply bytes, a Forward, or None (malformed: ignore). ``container_id`` fixes the client's identity."""
    try:
        q = wire.parse_query(data)
    except wire.WireError:
        return None
    if q.opcode != 0:
        return wire.build_error(q, wire.NOTIMP)
    cid = container_id if container_id is not None else registry.container_of(client_ip)
    nets = registry.networks_of_container(cid) if cid is not None else set()
    reply = _local(registry, q, nets, cid, ttl, q.udp_limit if udp else 65535)
    if reply is not None:
        return reply
    own = registry.dns_of(cid) if cid is not None else None
    servers = servers_of(own if own else default_upstreams, exclude)
    if servers and registry.may_forward(nets):
        return Forward(q, data, servers)
    return wire.build_error(q, wire.NXDOMAIN)
