"""NetworkManager: the facade the engine's callers use to wire containers, CNI-style.

Before a container starts, the caller makes a netns file (``create_netns``),
``attach``-es it to networks and ``publish``-es ports; the container then joins
that netns through ``NamespaceSpec.network``. Host-side work runs in the host
netns (the current one, or ``host_netns`` so tests can build a private host),
always in a short helper thread, so it is safe to call from an asyncio daemon
(use ``loop.run_in_executor`` to avoid blocking the loop).
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import os
import socket
from typing import Iterable

from pyroute2 import IPRoute

from engine.network import bridge, firewall, ipam, netns, veth
from engine.network.errors import AddressError, NetworkError, NetworkNotFound
from engine.network.publish import PublishMixin
from engine.network.store import State, StateStore
from engine.network.types import Endpoint, Network, NetworkConfig

__all__ = ["NetworkManager", "BRIDGE_PREFIX", "VETH_PREFIX"]

BRIDGE_PREFIX = "shl-"
VETH_PREFIX = "shv"
_MTU_OPTS = ("com.docker.network.driver.mtu", "mtu")


def _short(*parts: str, n: int = 10) -> str:
    """A stable short hex digest (interface names are limited to 15 chars)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:n]


def _ekey(container_id: str, network: str) -> str:
    """The state key of one endpoint."""
    return f"{container_id}/{network}"


class NetworkManager(PublishMixin):
    """Bridges, veths, IPAM, NAT, isolation and published ports for shoal."""

    def __init__(self, root: str, run_dir: str, host_netns: str | None = None) -> None:
        self.root = os.path.abspath(root)
        self.run_dir = os.path.abspath(run_dir)
        self.netns_dir = os.path.join(self.run_dir, "netns")
        self.host_netns = host_netns
        self.store = StateStore(self.root)
        self.tag = firewall.root_tag(self.root)
        self.table = firewall.table_name(self.root)  # this root's own nft table
        self.owner = f"{firewall.TABLE}:{self.tag}"  # ifalias of this root's bridges and veths
        self._placeholders: dict[str, socket.socket] = {}

    # -- helpers -------------------------------------------------------------------------
    def _host(self, fn, *args, **kwargs):
        """Run ``fn`` in the host netns (in a helper thread)."""
        return netns.run_in_netns(self.host_netns, fn, *args, **kwargs)

    def _host_ipr(self, fn, *args):
        """Run ``fn(ipr, *args)`` with a netlink handle in the host netns."""
        def body():
            with IPRoute() as ipr:
                return fn(ipr, *args)
        return self._host(body)

    def _apply_rules(self, st: State) -> None:
        """Re-render and load this root's table from ``st`` (deleted when nothing is left)."""
        def body():
            try:
                with open("/proc/sys/net/bridge/bridge-nf-call-iptables") as f:
                    brnf = f.read().strip() == "1"
            except OSError:
                brnf = False
            rs = firewall.Ruleset(tuple(st.networks[n] for n in sorted(st.networks)),
                                  tuple(st.publications[k] for k in sorted(st.publications)), brnf,
                                  self.table)
            if st.networks or st.publications:
                firewall.apply(rs)
            else:
                firewall.delete_table(self.table)
        self._host(body)

    # -- netns files ---------------------------------------------------------------------
    def create_netns(self, container_id: str) -> str:
        """A fresh netns file at ``<run>/netns/<id>`` (loopback up) for a container."""
        return netns.create_netns(os.path.join(self.netns_dir, container_id))

    def remove_netns(self, container_id: str) -> None:
        """Unmount and delete the container's netns file."""
        netns.remove_netns(os.path.join(self.netns_dir, container_id))

    # -- networks ------------------------------------------------------------------------
    def networks(self) -> list[Network]:
        """Every network shoal knows."""
        return sorted(self.store.load().networks.values(), key=lambda n: n.name)

    def get_network(self, name: str) -> Network:
        """The network called ``name``."""
        net = self.store.load().networks.get(name)
        if net is None:
            raise NetworkNotFound(f"network {name} not found")
        return net

    def create_network(self, cfg: NetworkConfig) -> Network:
        """Create (or return the existing) network; an external one is only looked up."""
        with self.store.locked():
            st = self.store.load()
            if cfg.external:
                if cfg.name not in st.networks:
                    raise NetworkNotFound(f"external network {cfg.name} not found")
                return st.networks[cfg.name]
            net = st.networks.get(cfg.name)
            fresh = net is None
            if net is None:
                net = self._plan_network(cfg, st)
            else:
                _check_same(net, cfg)
            st.networks[cfg.name] = net
            try:
                self._host_ipr(self._realize_bridge, net)
            except Exception as exc:
                if fresh:
                    self._host_ipr(bridge.delete_link, net.bridge)
                raise NetworkError(f"cannot create network {cfg.name}: {exc}") from exc
            self.store.save(st)
            self._apply_rules(st)
            return net

    def _plan_network(self, cfg: NetworkConfig, st: State) -> Network:
        """Validate ``cfg`` against the host and other networks; nothing is created here."""
        if not cfg.name:
            raise NetworkError("a network needs a name")
        v4 = [c for c in cfg.ipam if ":" not in c.subnet]
        v6 = [c for c in cfg.ipam if ":" in c.subnet]
        if len(v4) > 1 or len(v6) > 1:
            raise NetworkError(f"network {cfg.name}: one ipam config per IP family is supported")
        if v6 and not cfg.enable_ipv6:
            raise NetworkError(f"network {cfg.name}: an IPv6 subnet needs enable_ipv6: true")
        taken = {n: ipaddress.ip_network(x.subnet) for n, x in st.networks.items()}
        taken.update({f"{n} (v6)": ipaddress.ip_network(x.subnet6)
                      for n, x in st.networks.items() if x.subnet6})
        own = {n.bridge for n in st.networks.values()}
        routes, host_mtu = self._host_ipr(lambda ipr: (bridge.host_routes(ipr, own), bridge.default_mtu(ipr)))
        plan = ipam.plan_ipv4(cfg.name, v4[0] if v4 else None, taken, routes)
        opts = dict(cfg.driver_opts)
        raw = next((opts[k] for k in _MTU_OPTS if k in opts), host_mtu)
        mtu = int(raw) if str(raw).isdigit() else 0
        if not 68 <= mtu <= 65535:
            raise NetworkError(f"network {cfg.name}: invalid MTU {raw!r}")
        sub6, gw6 = ipam.plan_ipv6(cfg.name, taken, v6[0] if v6 else None) \
            if cfg.enable_ipv6 else ("", "")
        return Network(name=cfg.name, bridge=BRIDGE_PREFIX + _short(self.root, cfg.name),
                       subnet=str(plan.subnet),
                       gateway=str(plan.gateway), ip_range=str(plan.ip_range or ""),
                       internal=cfg.internal, subnet6=str(sub6), gateway6=str(gw6), mtu=mtu)

    def _realize_bridge(self, ipr: IPRoute, net: Network) -> int:
        """Make the bridge (labelled with this root), its gateway addresses and the forwarding sysctls."""
        plen = ipaddress.ip_network(net.subnet).prefixlen
        idx = bridge.ensure_bridge(ipr, net.bridge, [(net.gateway, plen)], net.mtu, self.owner)
        if net.gateway6:
            bridge.set_sysctl(f"net/ipv6/conf/{net.bridge}/accept_dad", "0")
            have = {a.get("address") for a in ipr.addr("dump", index=idx, family=10)}
            if net.gateway6 not in have:
                ipr.addr("add", index=idx, address=net.gateway6,
                         prefixlen=ipaddress.ip_network(net.subnet6).prefixlen, flags=veth.IFA_F_NODAD)
        if not net.internal:
            bridge.set_sysctl("net/ipv4/ip_forward", "1")
            if net.gateway6:
                bridge.set_sysctl("net/ipv6/conf/all/forwarding", "1")
            firewall.ensure_forward_accept(self.tag)
        return idx

    def remove_network(self, name: str) -> None:
        """Delete a network and its bridge; refuses while containers are attached."""
        with self.store.locked():
            st = self.store.load()
            if name not in st.networks:
                raise NetworkNotFound(f"network {name} not found")
            users = sorted(e.container_id for e in st.endpoints.values() if e.network == name)
            if users:
                raise NetworkError(f"network {name} has active endpoints: {', '.join(users)}")
            net = st.networks.pop(name)
            self._apply_rules(st)
            self._host_ipr(bridge.delete_link, net.bridge)
            if not st.networks:
                self._host(firewall.remove_forward_accept, self.tag)
            self.store.save(st)

    # -- endpoints -----------------------------------------------------------------------
    def endpoints(self, container_id: str | None = None) -> list[Endpoint]:
        """Endpoints (of one container, or all)."""
        eps = self.store.load().endpoints.values()
        return sorted((e for e in eps if container_id in (None, e.container_id)),
                      key=lambda e: (e.container_id, e.interface))

    def attach(self, netns_path: str, network: str, interface: str = "eth0",
               ipv4_address: str = "", mac_address: str = "", aliases: tuple[str, ...] = (),
               container_id: str = "") -> Endpoint:
        """Plug the netns into ``network``: veth, address, default route unless internal."""
        cid = container_id or os.path.basename(netns_path)
        with self.store.locked():
            st = self.store.load()
            net = st.networks.get(network)
            if net is None:
                raise NetworkNotFound(f"network {network} not found")
            if _ekey(cid, network) in st.endpoints:
                return st.endpoints[_ekey(cid, network)]
            ep = self._plan_endpoint(st, net, cid, netns_path, interface, ipv4_address,
                                     mac_address, tuple(aliases))
            st.endpoints[_ekey(cid, network)] = ep
            self.store.save(st)  # the address is reserved before anything exists
            try:
                mac = self._realize_endpoint(net, ep)
            except BaseException as exc:
                st.endpoints.pop(_ekey(cid, network))
                self._host_ipr(bridge.delete_link, ep.host_veth)
                self.store.save(st)
                if isinstance(exc, Exception) and not isinstance(exc, NetworkError):
                    raise NetworkError(f"cannot attach {cid} to network {network}: {exc}") from exc
                raise
            ep = dataclasses.replace(ep, mac_address=mac)
            st.endpoints[_ekey(cid, network)] = ep
            self.store.save(st)
            return ep

    def _plan_endpoint(self, st: State, net: Network, cid: str, path: str, interface: str,
                       ipv4: str, mac: str, aliases: tuple[str, ...]) -> Endpoint:
        """Validate the request and choose the addresses (pure apart from a stat)."""
        if not os.path.exists(path):
            raise NetworkError(f"network namespace {path} does not exist")
        if not interface or len(interface) > 15 or "/" in interface:
            raise NetworkError(f"invalid interface name {interface!r}")
        if mac and not _valid_mac(mac):
            raise AddressError(f"invalid mac_address {mac!r}")
        subnet = ipaddress.ip_network(net.subnet)
        used = [e.ipv4_address for e in st.endpoints.values() if e.network == net.name]
        rng = ipaddress.ip_network(net.ip_range) if net.ip_range else None
        ip = ipam.allocate(subnet, ipaddress.ip_address(net.gateway), used, rng, ipv4,
                           f"ipv4_address of {cid} on network {net.name}")
        ip6 = ""
        if net.subnet6:
            used6 = [e.ipv6_address for e in st.endpoints.values() if e.network == net.name]
            ip6 = ipam.allocate(ipaddress.ip_network(net.subnet6),
                                ipaddress.ip_address(net.gateway6), used6)
        return Endpoint(container_id=cid, network=net.name, netns=path, interface=interface,
                        host_veth=VETH_PREFIX + _short(self.root, cid, net.name, n=11), ipv4_address=ip,
                        mac_address=mac, ipv6_address=ip6, aliases=aliases)

    def _realize_endpoint(self, net: Network, ep: Endpoint) -> str:
        """Create the veth (peer born in the container netns) and configure both ends."""
        def host(ipr: IPRoute) -> None:
            br = bridge.link_index(ipr, net.bridge)
            if br is None:
                br = self._realize_bridge(ipr, net)
            bridge.delete_link(ipr, ep.host_veth)  # a leftover of a crash
            veth.create_veth(ipr, ep.host_veth, ep.interface, ep.netns, br, net.mtu, self.owner)
        self._host_ipr(host)
        a = veth.Addressing(interface=ep.interface, ipv4=ep.ipv4_address,
                            prefixlen=ipaddress.ip_network(net.subnet).prefixlen,
                            gateway="" if net.internal else net.gateway, mtu=net.mtu,
                            mac=ep.mac_address, ipv6=ep.ipv6_address,
                            prefixlen6=ipaddress.ip_network(net.subnet6).prefixlen if net.subnet6 else 64,
                            gateway6="" if net.internal else net.gateway6)
        return netns.run_in_netns(ep.netns, veth.configure_peer, a)

    def detach(self, container_id: str, network: str) -> None:
        """Unplug the container from ``network``: veth gone, address and ports freed."""
        with self.store.locked():
            st = self.store.load()
            ep = st.endpoints.pop(_ekey(container_id, network), None)
            if ep is None:
                return
            self._drop_backends(st, container_id, ep.ipv4_address)
            self.store.save(st)
            self._apply_rules(st)
            self._host_ipr(bridge.delete_link, ep.host_veth)

    def detach_many(self, container_ids: Iterable[str]) -> list[str]:
        """Withdraw every port and endpoint of these containers in one go; the endpoint keys freed.

        One state write and one ruleset load for all of them (``detach`` + ``unpublish`` per
        container cost one load each), so tearing down many containers stays fast.
        """
        gone = set(container_ids)
        with self.store.locked():
            st = self.store.load()
            eps = [(k, e) for k, e in st.endpoints.items() if e.container_id in gone]
            pubs = any(c in gone for p in st.publications.values() for c, _ in p.backends)
            if not eps and not pubs:
                return []
            for key, _ in eps:
                st.endpoints.pop(key)
            for cid in gone:
                self._drop_backends(st, cid)
            self.store.save(st)
            self._apply_rules(st)
            self._host_ipr(bridge.delete_links, [e.host_veth for _, e in eps])
        return sorted(k for k, _ in eps)

    # -- lifecycle ------------------------------------------------------------------------
    def reconcile(self, live_keys: Iterable[str]) -> dict[str, list[str]]:
        """At daemon start: free what dead containers held, re-create what live ones need.

        ``live_keys`` names the live containers by whatever key the caller uses: an endpoint
        is kept when its container id or its netns file name is one of them, a netns file
        when its name is one or a kept endpoint uses it.
        """
        live = set(live_keys)
        removed: list[str] = []
        with self.store.locked():
            st = self.store.load()
            for key, ep in list(st.endpoints.items()):
                if ep.container_id not in live and os.path.basename(ep.netns) not in live:
                    st.endpoints.pop(key)
                    self._drop_backends(st, ep.container_id, ep.ipv4_address)
                    self._host_ipr(bridge.delete_link, ep.host_veth)
                    removed.append(key)
            used = {os.path.abspath(e.netns) for e in st.endpoints.values()}
            for path in netns.list_netns(self.netns_dir):
                if os.path.basename(path) not in live and os.path.abspath(path) not in used:
                    netns.remove_netns(path)
            self.store.save(st)
            for net in st.networks.values():
                self._host_ipr(self._realize_bridge, net)
            strays = self._host_ipr(_remove_strays, st, self.owner)
            self._restore_placeholders(st)
            self._apply_rules(st)
        return {"endpoints_removed": removed, "links_removed": strays}

    def cleanup_all(self) -> None:
        """Remove this root's bridges, veths, nft table, FORWARD accepts, netns files and state.

        Another root's objects (other table, other ifalias) are never touched.
        """
        with self.store.locked():
            for sock in self._placeholders.values():
                sock.close()
            self._placeholders.clear()

            def links(ipr: IPRoute) -> None:
                for prefix in (VETH_PREFIX, BRIDGE_PREFIX):
                    for name in bridge.links_with_prefix(ipr, prefix, self.owner):
                        bridge.delete_link(ipr, name)
            self._host_ipr(links)
            self._host(firewall.delete_table, self.table)
            self._host(firewall.remove_forward_accept, self.tag)
            for path in netns.list_netns(self.netns_dir):
                netns.remove_netns(path)
            self.store.save(State())

    def close(self) -> None:
        """Release the placeholder sockets held by this process (rules stay in the kernel)."""
        for sock in self._placeholders.values():
            sock.close()
        self._placeholders.clear()


def _check_same(net: Network, cfg: NetworkConfig) -> None:
    """An existing network must not be asked for a different subnet or isolation."""
    v4 = [c for c in cfg.ipam if c.subnet and ":" not in c.subnet]
    if (v4 and v4[0].subnet != net.subnet) or cfg.internal != net.internal:
        raise NetworkError(f"network {cfg.name} exists with another configuration "
                           f"(subnet {net.subnet}, internal={net.internal}); remove it first")


def _remove_strays(ipr: IPRoute, st: State, owner: str) -> list[str]:
    """Delete this root's links (ifalias ``owner``) the state does not know (left by a crash)."""
    known = {n.bridge for n in st.networks.values()} | {e.host_veth for e in st.endpoints.values()}
    gone = []
    for prefix in (VETH_PREFIX, BRIDGE_PREFIX):
        for name in bridge.links_with_prefix(ipr, prefix, owner):
            if name not in known and bridge.delete_link(ipr, name):
                gone.append(name)
    return gone


def _valid_mac(mac: str) -> bool:
    """True for a unicast aa:bb:cc:dd:ee:ff address."""
    parts = mac.split(":")
    try:
        return len(parts) == 6 and all(len(p) == 2 for p in parts) and not int(parts[0], 16) & 1
    except ValueError:
        return False
