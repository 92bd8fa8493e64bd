"""Published ports for NetworkManager: host-port choice, load-balanced backends, placeholders.

A publication is one host port (``*:8080/tcp``) with an ordered list of
backends. Replicas publishing the same fixed port under the same ``group``
(e.g. the service) share it, load-balanced by the kernel (``numgen`` map);
anyone else asking for it gets PortInUse. A host-port range hands each caller
the first free port of the range, so N replicas on N ports each get their own.
"""

from __future__ import annotations

import dataclasses
import socket
from typing import Iterable

from engine.network import ports as portmod
from engine.network import firewall, veth
from engine.network.errors import PortError, PortInUse
from engine.network.store import State
from engine.network.types import Endpoint, PortBinding, Publication

__all__ = ["PublishMixin"]


class PublishMixin:
    """The published-port half of NetworkManager (expects store, _host, _apply_rules)."""

    _placeholders: dict[str, socket.socket]

    def publications(self, container_id: str | None = None) -> list[Publication]:
        """Published host ports (those reaching one container, or all), sorted by key."""
        pubs = self.store.load().publications  # type: ignore[attr-defined]
        return [pubs[k] for k in sorted(pubs)
                if container_id is None or any(c == container_id for c, _ in pubs[k].backends)]

    def publish(self, container_id: str, endpoint: Endpoint, ports: Iterable[PortBinding],
                group: str = "") -> list[Publication]:
        """Publish ``ports`` of the container at ``endpoint``; all or nothing."""
        bindings = portmod.validate_bindings(ports)
        with self.store.locked():  # type: ignore[attr-defined]
            st: State = self.store.load()  # type: ignore[attr-defined]
            made: list[str] = []
            keys: list[str] = []
            try:
                for b in bindings:
                    keys.append(self._publish_one(st, container_id, endpoint.ipv4_address, b,
                                                  group, made))
                self.store.save(st)  # type: ignore[attr-defined]
                self._apply_rules(st)  # type: ignore[attr-defined]
                if endpoint.host_veth:  # a container reaching its own published port
                    self._host_ipr(veth.set_hairpin, endpoint.host_veth)  # type: ignore[attr-defined]
                self._flush_udp([st.publications[k] for k in keys])
            except BaseException:
                for key in made:
                    self._release(key)
                raise
            return [st.publications[k] for k in keys]

    def _publish_one(self, st: State, cid: str, ip: str, b: PortBinding, group: str,
                     made: list[str]) -> str:
        """Add one binding to ``st``; returns its key (new placeholders go in ``made``)."""
        ranged = bool(b.host_port_end) and b.host_port_end != b.host_port
        for port in portmod.candidates(b):
            key = portmod.port_key(b.host_ip, port, b.protocol) if port else ""
            pub = st.publications.get(key) if key else None
            if pub is not None:
                mine = any(c == cid for c, _ in pub.backends)
                if ranged and not mine:
                    continue
                if not mine and (not group or pub.group != group):
                    raise PortInUse(f"host port {port}/{b.protocol} is already published "
                                    f"by {pub.backends[0][0] if pub.backends else pub.group}")
                if pub.container_port != b.container_port:
                    raise PortError(f"host port {port}/{b.protocol} already forwards to "
                                    f"container port {pub.container_port}, not {b.container_port}")
                st.publications[key] = _with_backend(pub, cid, ip)
                return key
            try:
                key = self._reserve(b.host_ip, port, b.protocol)
            except PortInUse:
                if ranged:
                    continue
                raise
            made.append(key)
            _, real_port, _ = portmod.parse_key(key)
            st.publications[key] = Publication(key=key, protocol=b.protocol, host_ip=b.host_ip,
                                               host_port=real_port, container_port=b.container_port,
                                               group=group, backends=((cid, ip),), active=(cid,))
            return key
        raise PortInUse(f"no free host port in range {b.host_port}-{b.host_port_end}/{b.protocol}")

    def _reserve(self, host_ip: str, port: int, protocol: str) -> str:
        """Bind a placeholder for the port in the host netns; its key."""
        sock = self._host(portmod.bind_placeholder, host_ip, port, protocol)  # type: ignore[attr-defined]
        key = portmod.port_key(host_ip, sock.getsockname()[1], protocol)
        self._placeholders[key] = sock
        return key

    def _release(self, key: str) -> None:
        """Close the placeholder of ``key`` if this process holds it."""
        sock = self._placeholders.pop(key, None)
        if sock is not None:
            sock.close()

    def _restore_placeholders(self, st: State) -> None:
        """Re-bind the placeholders of saved publications (after a daemon restart)."""
        for key, pub in st.publications.items():
            if key not in self._placeholders:
                try:
                    self._reserve(pub.host_ip, pub.host_port, pub.protocol)
                except PortInUse:
                    pass  # someone holds it (a previous daemon still exiting): rules still apply

    def _drop_backends(self, st: State, cid: str, ip: str = "") -> None:
        """Remove ``cid`` (only its backend at ``ip`` when given) from every publication."""
        for key, pub in list(st.publications.items()):
            left = tuple((c, i) for c, i in pub.backends if c != cid or (ip and i != ip))
            if left == pub.backends:
                continue
            if not left:
                del st.publications[key]
                self._release(key)
            else:
                st.publications[key] = dataclasses.replace(
                    pub, backends=left, active=tuple(a for a in pub.active if a != cid))

    def unpublish(self, container_id: str) -> None:
        """Withdraw every port the container published."""
        with self.store.locked():  # type: ignore[attr-defined]
            st: State = self.store.load()  # type: ignore[attr-defined]
            self._drop_backends(st, container_id)
            self.store.save(st)  # type: ignore[attr-defined]
            self._apply_rules(st)  # type: ignore[attr-defined]

    def set_backends(self, port_key: str, endpoints: Iterable[Endpoint | str]) -> Publication:
        """Send new connections on ``port_key`` only to these backends (e.g. the healthy ones)."""
        wanted = [e.container_id if isinstance(e, Endpoint) else e for e in endpoints]
        with self.store.locked():  # type: ignore[attr-defined]
            st: State = self.store.load()  # type: ignore[attr-defined]
            pub = st.publications.get(port_key)
            if pub is None:
                raise PortError(f"no published port {port_key}")
            known = [c for c, _ in pub.backends]
            unknown = [c for c in wanted if c not in known]
            if unknown:
                raise PortError(f"{', '.join(unknown)} is not a backend of {port_key}")
            pub = dataclasses.replace(pub, active=tuple(c for c in known if c in wanted))
            st.publications[port_key] = pub
            self.store.save(st)  # type: ignore[attr-defined]
            self._apply_rules(st)  # type: ignore[attr-defined]
            self._flush_udp([pub])
            return pub

    def _flush_udp(self, pubs: list[Publication]) -> None:
        """Forget UDP flows to these ports so the new rules (not stale conntrack) decide."""
        udp = sorted({p.host_port for p in pubs if p.protocol == "udp"})
        if udp:
            self._host(firewall.flush_udp_conntrack, udp)  # type: ignore[attr-defined]


def _with_backend(pub: Publication, cid: str, ip: str) -> Publication:
    """``pub`` with ``cid`` (at ``ip``) as an active backend."""
    backends = tuple((c, i) for c, i in pub.backends if c != cid) + ((cid, ip),)
    active = tuple(a for a in pub.active if a != cid) + (cid,)
    return dataclasses.replace(pub, backends=backends, active=active)
