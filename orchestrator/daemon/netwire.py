"""Wiring containers into compose networks: netns, veths, published ports and embedded DNS.

``NetworkedEngine`` wraps the engine the executor drives: ``create`` makes a
netns file (named after the container), plugs it into each network of the
spec, publishes the service's ports (one group per service and port, so
replicas share a host port, load-balanced) and serves the embedded DNS at
``127.0.0.11`` inside it; ``remove`` undoes all of it. Restarts keep the netns,
so a replica keeps its address. ``adopt`` rebuilds the DNS registry and
listeners after a daemon restart from the network manager's saved endpoints.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import threading
from typing import Any, Iterable, Mapping

from engine.spec import ContainerSpec

__all__ = ["Networking", "NetworkedEngine", "port_bindings", "network_config", "DNS_IP"]

log = logging.getLogger("shoald.net")
DNS_IP = "127.0.0.11"


def network_config(name: str, net: Any) -> Any:
    """A compose top-level network (model.Network) as the engine's NetworkConfig."""
    from engine.network.types import IPAMConfig, NetworkConfig
    ipam = tuple(IPAMConfig(str(c.get("subnet") or ""), str(c.get("ip_range") or ""), str(c.get("gateway") or ""))
                 for c in ((net.ipam or {}).get("config") or []) if isinstance(c, Mapping))
    opts = net.extras.get("driver_opts") or {}
    return NetworkConfig(name=name, internal=bool(net.internal), enable_ipv6=bool(net.enable_ipv6),
                         external=bool(net.external), ipam=ipam,
                         driver_opts=tuple(sorted((str(k), str(v)) for k, v in opts.items())),
                         labels=tuple(sorted((net.labels or {}).items())))


def port_bindings(ports: Iterable[Any]) -> list[Any]:
    """Compose ``ports`` (model.Port) as engine PortBindings; unpublished ports are skipped."""
    from engine.network.types import PortBinding
    out = []
    for p in ports:
        published = str(getattr(p, "published", "") or "")
        if not published:
            continue
        lo, _, hi = published.partition("-")
        out.append(PortBinding(int(p.target), (getattr(p, "protocol", None) or "tcp"),
                               getattr(p, "host_ip", None) or "", int(lo), int(hi) if hi else 0))
    return out


class Networking:
    """The network manager, the DNS registry and server, and what each container holds."""

    def __init__(self, root: str, run_dir: str, loop: asyncio.AbstractEventLoop,
                 upstreams: list[str] | None = None) -> None:
        from engine.network import NetworkManager
        from engine.network.dns import DnsServer, Registry
        self.nm = NetworkManager(root, run_dir)
        self.registry = Registry()
        self.dns = DnsServer(self.registry, upstreams)
        self.loop = loop
        self.ports: dict[tuple[str, str], list[Any]] = {}  # (project, service) -> PortBindings
        self.configs: dict[str, Any] = {}  # engine network name -> NetworkConfig from the compose file
        self._listeners: dict[str, tuple[str, int]] = {}  # container id -> DNS address
        self._unhealthy: set[str] = set()
        self._pending: set[str] = set()  # containers whose ports and endpoints await release
        self._inflight: set[str] = set()  # the batch being released now
        self._release_cv = threading.Condition()

    def netns_path(self, name: str) -> str:
        return os.path.join(self.nm.netns_dir, name)

    # -- networks ----------------------------------------------------------------------------
    def create_network(self, name: str) -> None:
        from engine.network.types import NetworkConfig
        cfg = self.configs.get(name) or NetworkConfig(name=name)
        self.nm.create_network(cfg)
        self.registry.set_network(name, cfg.internal)

    def remove_network(self, name: str) -> None:
        from engine.network.errors import NetworkNotFound
        try:
            self.nm.remove_network(name)
        except NetworkNotFound:
            pass

    def network_names(self) -> set[str]:
        return {n.name for n in self.nm.networks()}

    # -- containers (called from executor threads) -------------------------------------------
    def prepare(self, spec: ContainerSpec) -> tuple[ContainerSpec, str | None]:
        """The spec joined to a fresh netns file when it has networks of its own."""
        if not spec.networks or spec.namespaces.network != "private":
            return spec, None
        path = self.netns_path(spec.name)
        try:
            self.nm.create_netns(path)
        except FileExistsError:  # a plain file left by a daemon killed mid-create: make it again
            self.nm.remove_netns(path)
            if os.path.lexists(path):
                os.unlink(path)
            self.nm.create_netns(path)
        ns = dataclasses.replace(spec.namespaces, network=path)
        return dataclasses.replace(spec, namespaces=ns, dns=spec.dns or (DNS_IP,)), path

    def wire(self, cid: str, spec: ContainerSpec, path: str) -> None:
        """Attach, publish, register in DNS and listen for DNS inside the netns."""
        labels = dict(spec.labels)
        project = labels.get("com.docker.compose.project", "")
        service = labels.get("com.docker.compose.service", "")
        first = None
        for att in spec.networks:
            ep = self.nm.attach(path, att.network, att.interface, att.ipv4_address, att.mac_address,
                                att.aliases, container_id=cid)
            first = first or ep
            self.registry.add(att.network, cid, ep.ipv4_address, (*att.aliases, spec.name, cid[:12]))
        ports = self.ports.get((project, service), [])
        if ports and first is not None and labels.get("com.docker.compose.oneoff") != "True":
            self.nm.publish(cid, first, ports, group=f"{project}_{service}")
        self._call(self._listen(cid, path))

    def unwire(self, cid: str, name: str) -> None:
        """Withdraw ports, endpoints, DNS records and the netns of a removed container."""
        self._release(cid)
        self.registry.remove(cid)
        self._unhealthy.discard(cid)
        self._call(self._unlisten(cid))
        self.nm.remove_netns(self.netns_path(name))

    def _release(self, cid: str) -> None:
        """Detach ``cid`` everywhere, batched with every other container being removed meanwhile.

        A group commit: while no batch runs, the first caller frees all pending containers with one
        ``detach_many`` (one state write, one nft load), so ``down`` of N containers costs a few
        ruleset loads instead of N or more. Returns once ``cid`` is released.
        """
        cv = self._release_cv
        with cv:
            self._pending.add(cid)
            while cid in self._inflight or (self._inflight and cid in self._pending):
                cv.wait()
            if cid not in self._pending:  # a batch that held ours is done
                return
            batch, self._pending, self._inflight = self._pending, set(), self._pending
        ok = False
        try:
            self.nm.detach_many(batch)
            ok = True
        finally:
            with cv:
                self._inflight = set()
                if not ok:  # the others retry with the next batch
                    self._pending |= batch - {cid}
                cv.notify_all()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _listen(self, cid: str, path: str) -> None:
        if cid not in self._listeners:
            self._listeners[cid] = await self.dns.add_listener(DNS_IP, 53, netns=path, container_id=cid)

    async def _unlisten(self, cid: str) -> None:
        addr = self._listeners.pop(cid, None)
        if addr is not None:
            await self.dns.remove_listener(addr)

    async def adopt(self, live: dict[str, str]) -> None:
        """After a restart: what gone containers held is freed, live ones (id -> name) get DNS.

        netns files are named after containers and endpoints after their ids, so both keys
        of every live container count as live for ``reconcile``.
        """
        try:
            await asyncio.to_thread(self.nm.reconcile, {*live, *live.values()})
        except Exception as exc:  # the daemon still serves; what is left stays for the next start
            log.warning("network reconcile at start failed: %s", exc)
        for net in self.nm.networks():
            self.registry.set_network(net.name, net.internal)
        for ep in self.nm.endpoints():
            name = live.get(ep.container_id)
            if name is None:
                await asyncio.to_thread(self.nm.detach, ep.container_id, ep.network)
                continue
            self.registry.add(ep.network, ep.container_id, ep.ipv4_address,
                              (*ep.aliases, name, ep.container_id[:12]))
            if ep.container_id not in self._listeners and os.path.exists(ep.netns):
                try:
                    self._listeners[ep.container_id] = await self.dns.add_listener(
                        DNS_IP, 53, netns=ep.netns, container_id=ep.container_id)
                except OSError as exc:
                    log.warning("DNS for %s: %s", name, exc)

    def set_healthy(self, cid: str, healthy: bool) -> None:
        """DNS answers and published ports skip unhealthy replicas (all of them when none is healthy)."""
        self.registry.set_healthy(cid, healthy)
        if healthy:
            self._unhealthy.discard(cid)
        else:
            self._unhealthy.add(cid)
        for pub in self.nm.publications(cid):
            backends = [c for c, _ in pub.backends]
            active = [c for c in backends if c not in self._unhealthy] or backends
            if tuple(active) != tuple(pub.active):
                self.nm.set_backends(pub.key, active)

    async def close(self) -> None:
        await self.dns.stop()
        self.nm.close()


class NetworkedEngine:
    """The engine as the executor sees it, with network wiring around create and remove."""

    def __init__(self, engine: Any, net: Networking) -> None:
        self.inner = engine
        self.net = net

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create(self, spec: ContainerSpec) -> str:
        from engine.errors import NameInUse
        spec, path = self.net.prepare(spec)
        try:
            cid = self.inner.create(spec)
        except NameInUse:
            raise  # the netns belongs to the container that has the name
        except BaseException:
            if path:
                self.net.nm.remove_netns(path)
            raise
        if path:
            try:
                self.net.wire(cid, spec, path)
            except BaseException:
                self.remove(cid, True)
                raise
        return cid

    def remove(self, ref: str, force: bool = False) -> None:
        info = self.inner.inspect(ref)
        self.inner.remove(ref, force)
        self.net.unwire(info.id, info.name)


